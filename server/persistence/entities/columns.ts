import type { EntitySchemaColumnOptions } from "typeorm";
import { numericAsBigint } from "../money";

/** A `numeric(78,0)` money column read as bigint. */
export function moneyColumn(name: string, options: Partial<EntitySchemaColumnOptions> = {}): EntitySchemaColumnOptions {
  return { type: "numeric", precision: 78, scale: 0, transformer: numericAsBigint, name, ...options };
}

export function timestampColumn(
  name: string,
  options: Partial<EntitySchemaColumnOptions> = {},
): EntitySchemaColumnOptions {
  return { type: "timestamptz", name, ...options };
}

/** Set by the database when the row is inserted. */
export const createdAtColumn: EntitySchemaColumnOptions = timestampColumn("created_at", { default: () => "now()" });
