import { EntitySchema } from "typeorm";
import { int8AsNumber } from "../money";
import { moneyColumn } from "./columns";

export interface ModelRow {
  id: string;
  ownedBy: string;
  /** Unix seconds. */
  created: number;
  contextLength: number;
  maxOutputTokens: number;
  promptRatePerMTok: bigint;
  completionRatePerMTok: bigint;
  enabled: boolean;
}

export const ModelEntity = new EntitySchema<ModelRow>({
  name: "Model",
  tableName: "models",
  columns: {
    id: { type: "text", primary: true },
    ownedBy: { type: "text", name: "owned_by" },
    created: { type: "bigint", transformer: int8AsNumber },
    contextLength: { type: "integer", name: "context_length" },
    maxOutputTokens: { type: "integer", name: "max_output_tokens" },
    promptRatePerMTok: moneyColumn("prompt_rate_per_mtok"),
    completionRatePerMTok: moneyColumn("completion_rate_per_mtok"),
    enabled: { type: "boolean", default: true },
  },
  checks: [
    {
      name: "models_limits_valid",
      expression:
        "context_length > 0 AND max_output_tokens > 0 AND prompt_rate_per_mtok >= 0 AND completion_rate_per_mtok >= 0",
    },
  ],
});
