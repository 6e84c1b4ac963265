import type { Pool, PoolClient } from "pg";

/** Runs `work` in one READ COMMITTED transaction on a client of `pool`; rolls back if it throws. */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** Thrown inside {@link inTransaction} to roll back without it being an error for the caller. */
export class RollBack extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}
