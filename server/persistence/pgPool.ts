import type { Pool, QueryConfig, QueryResultRow } from "pg";
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

/**
 * The query config node-postgres is given for `statement`: an object whose
 * prototype is the statement, with `values` as its only own property.
 * node-postgres copies every config it is given, property descriptor by
 * property descriptor, keeping the prototype (`cloneQueryConfig`); with one own
 * property instead of three that copy costs about half. `name` and `text` are
 * read through the prototype. (Were a copy ever to drop the prototype, the
 * query would have neither name nor text and fail loudly, not run unnamed.)
 */
export function namedQuery(statement: NamedStatement, values: unknown[]): QueryConfig {
  const config = Object.create(statement) as QueryConfig;
  config.values = values;
  return config;
}

export async function runNamed<Row extends QueryResultRow>(
  pool: Pool,
  statement: NamedStatement,
  values: unknown[],
): Promise<Row[]> {
  const result = await pool.query<Row>(namedQuery(statement, values));
  return result.rows;
}
