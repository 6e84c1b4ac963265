import type { Model } from "../../domain/types";
import { bigintFromNumeric } from "../money";

export const MODEL_COLUMNS =
  "id, owned_by, created, context_length, max_output_tokens, prompt_rate_per_mtok, completion_rate_per_mtok";

export interface ModelSqlRow {
  id: string;
  owned_by: string;
  created: string;
  context_length: number;
  max_output_tokens: number;
  prompt_rate_per_mtok: string;
  completion_rate_per_mtok: string;
}

export function modelFromSqlRow(row: ModelSqlRow): Model {
  return {
    id: row.id,
    ownedBy: row.owned_by,
    created: Number(row.created),
    contextLength: row.context_length,
    maxOutputTokens: row.max_output_tokens,
    promptRatePerMTok: bigintFromNumeric(row.prompt_rate_per_mtok),
    completionRatePerMTok: bigintFromNumeric(row.completion_rate_per_mtok),
  };
}
