import type { Pool, PoolClient } from "pg";

/**
 * Runs `fn` in one transaction on one pooled connection: committed if `fn`
 * resolves, rolled back if it throws. A connection that could not begin or roll
 * back is discarded rather than returned to the pool in an unknown state.
 */
export async function inTransaction<T>(pool: Pool, fn: (tx: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    try {
      await client.query("BEGIN");
    } catch (error) {
      broken = error as Error;
      throw error;
    }
    try {
      const result = await fn(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      throw error;
    }
  } finally {
    client.release(broken);
  }
}
