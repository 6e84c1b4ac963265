import type { Pool, QueryResultRow } from "pg";
import type { DataSource } from "typeorm";

/**
 * The request path bypasses TypeORM's query builder and talks to its
 * node-postgres pool directly: named statements are parsed and planned once per
 * connection, then only bound and executed, and no entity hydration runs.
 */

/** A statement prepared once per connection under `name`; values are always bound, never interpolated. */
export interface NamedStatement {
  name: string;
  text: string;
}

/** The node-postgres pool inside an initialised TypeORM DataSource. */
export function pgPoolOf(dataSource: DataSource): Pool {
  const pool = (dataSource.driver as unknown as { master?: Pool }).master;
  if (!pool) throw new Error("the DataSource is not initialised");
  return pool;
}

export async function runNamed<Row extends QueryResultRow>(
  pool: Pool,
  statement: NamedStatement,
  values: unknown[],
): Promise<Row[]> {
  const result = await pool.query<Row>({ name: statement.name, text: statement.text, values });
  return result.rows;
}
