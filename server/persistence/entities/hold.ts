import { EntitySchema } from "typeorm";
import { moneyColumn, timestampColumn } from "./columns";

export interface HoldRow {
  id: string;
  requestId: string;
  account: string;
  keyId: string;
  modelId: string;
  amountMicros: bigint;
  expiresAt: Date;
  createdAt: Date;
}

/** Written only by the ledger's statements (see ledger/); declared here for the schema's sake. */
export const HoldEntity = new EntitySchema<HoldRow>({
  name: "Hold",
  tableName: "holds",
  columns: {
    id: { type: "uuid", primary: true, generated: "uuid" },
    requestId: { type: "text", name: "request_id" },
    account: { type: "text" },
    keyId: { type: "uuid", name: "key_id" },
    modelId: { type: "text", name: "model_id" },
    amountMicros: moneyColumn("amount_micros"),
    expiresAt: timestampColumn("expires_at"),
    createdAt: timestampColumn("created_at"),
  },
  uniques: [{ name: "holds_request_id_unique", columns: ["requestId"] }],
  indices: [{ name: "holds_expires_at_idx", columns: ["expiresAt"] }],
  checks: [{ name: "holds_amount_non_negative", expression: "amount_micros >= 0" }],
});
