/**
 * Micro-benchmark of the ledger's hot-path statements, as the gateway runs
 * them: per request one reserve, then one commit (docs/bench-gateway.md,
 * "Profile", row 1 "pg client"). The statements as they were before the
 * change (arrays, Dates and `utcDay` as parameters, every column returned,
 * synchronous holds) are kept here, and only here, under other names, so that
 * old and new are measured in the same run, on the same connection pool,
 * round after round in alternating order.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx scripts/bench/ledgerStatements.ts
 *
 * | Variable | Default | |
 * |---|---|---|
 * | `DATABASE_URL` | unset: embedded | Postgres server; a database `shareai_bench_<pid>_<hex>` is created, then dropped |
 * | `BENCH_PAIRS` | 2000 | requests (reserve + commit) per variant, mode and round of part 2 |
 * | `BENCH_ROUNDS` | 5 | rounds; each figure printed is the median over the rounds (min–max after it) |
 * | `BENCH_GROUP` | 4 | requests per group in the "group" mode |
 * | `BENCH_PAUSE_MS` | 300 | pause around each run, for Postgres to publish its WAL statistics (and the machine to settle) |
 *
 * Modes: `single`, one request at a time (RESERVE_HOLD then COMMIT_USAGE, as at
 * c=1); `group of N`, N requests of one account at a time (RESERVE_HOLD_BATCH
 * then COMMIT_USAGE_BATCH, as under load). Variants: `old`, the statements and
 * parameters before; `new`, the statements and their parameter builders as the
 * ledger now runs them (server/persistence/ledger, pgPool.ts: namedQuery);
 * `ledger`, the whole PostgresLedger (queues and result objects included), for
 * reference.
 *
 * Part 1, no I/O: gateway CPU µs per request (reserve + commit) to build the
 * parameters, node-postgres's Query and its Bind message. Steady: it is the
 * figure that isolates the parameters' cost.
 *
 * Part 2, against Postgres, per request:
 * - `gateway CPU µs`: this process's CPU (process.cpuUsage, user + system):
 *   node-postgres, the parameters, and the event loop's wake-ups;
 * - `wall µs`: elapsed time (one request or group at a time: the round trips,
 *   and the WAL flushes waited for);
 * - `Postgres CPU µs`: CPU of the backends serving the benchmark database
 *   (/proc, so only when Postgres runs on this machine; 10 ms ticks);
 * - `WAL syncs`: pg_stat_wal.wal_sync (after asking the pool's backends to
 *   publish their statistics), server-wide: other databases' work on the same
 *   server counts too, so read it on a quiet server.
 * The machine may be shared: read the spread between rounds as well.
 */
import { Client, Query, type Pool, type QueryConfig, type QueryResultRow } from "pg";
import { serialize } from "pg-protocol";
import type { HoldRequest, UsageRecordInput } from "../../server/domain/ports";
import { openDatabase, type Database } from "../../server/persistence";
import { COMMIT_USAGE_BATCH, commitUsageBatchValues } from "../../server/persistence/ledger/commitBatchStatement";
import { COMMIT_USAGE, commitUsageValues, type CommitUsageRow } from "../../server/persistence/ledger/commitStatement";
import { PostgresLedger } from "../../server/persistence/ledger/postgresLedger";
import {
  RESERVE_HOLD_BATCH,
  reserveHoldBatchValues,
  type ReserveHoldBatchRow,
} from "../../server/persistence/ledger/reserveBatchStatement";
import { RESERVE_HOLD, reserveHoldValues, type ReserveHoldRow } from "../../server/persistence/ledger/reserveStatement";
import { namedQuery, pgPoolOf, type NamedStatement } from "../../server/persistence/pgPool";
import { createBenchDatabase, type BenchDatabase } from "./benchDatabase";
import { cpuSeconds } from "./procStats";

// node-postgres's own value preparation (what it runs on every parameter when it writes the Bind message).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { prepareValue } = require("pg/lib/utils") as { prepareValue: (value: unknown) => unknown };

const PAIRS = Number(process.env.BENCH_PAIRS ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const GROUP = Number(process.env.BENCH_GROUP ?? 4);
const PAUSE_MS = Number(process.env.BENCH_PAUSE_MS ?? 300);
const POOL_SIZE = 4;
const MODEL_ID = "bench/echo-8b";
const PROVIDER_ADDRESS = "0x00000000000000000000000000000000000b3c4a";
const UPSTREAM_ID = "00000000-0000-4000-8000-000000000001";

// ---------------------------------------------------------------------------------------------------------------
// The statements before the change, verbatim but for their names (a connection cannot prepare two texts under one
// name). Their parameters were built as the old HoldReserver and UsageCommitter built them, below.
// ---------------------------------------------------------------------------------------------------------------

const OLD_RESERVE_HOLD: NamedStatement = {
  name: "bench_old_ledger_reserve_hold",
  text: `
WITH locked AS (
  -- A shortfall (the escrow could not pay a voucher in full) stops spending until it is collected.
  SELECT LEAST(b.onchain_available_base * 1000000 - b.unsettled_micros - b.held_micros,
               CASE WHEN b.settlement_shortfall_base > 0 THEN 0 END) AS spendable_micros,
         k.daily_spend_cap_base * 1000000 - s.held_micros
           - CASE WHEN s.spend_day >= $6::date THEN s.day_spent_micros ELSE 0 END AS daily_remaining_micros,
         k.total_spend_cap_base * 1000000 - s.held_micros - s.total_spent_micros AS total_remaining_micros
  FROM account_balances b
  JOIN api_keys k ON k.account = b.account
  JOIN api_key_spend s ON s.key_id = k.id
  WHERE b.account = $2 AND k.id = $3::uuid
  FOR NO KEY UPDATE OF b, s
),
decision AS (
  SELECT spendable_micros, daily_remaining_micros, total_remaining_micros,
         CASE WHEN daily_remaining_micros < $1::numeric THEN 'daily_spend_cap'
              WHEN total_remaining_micros < $1::numeric THEN 'total_spend_cap'
              WHEN spendable_micros < $1::numeric THEN 'insufficient_balance'
         END AS refusal
  FROM locked
),
held_by_account AS (
  UPDATE account_balances b SET held_micros = b.held_micros + $1::numeric
  FROM decision d
  WHERE b.account = $2 AND d.refusal IS NULL
),
held_by_key AS (
  UPDATE api_key_spend s SET held_micros = s.held_micros + $1::numeric
  FROM decision d
  WHERE s.key_id = $3::uuid AND d.refusal IS NULL
),
hold AS (
  INSERT INTO holds (request_id, account, key_id, model_id, amount_micros, expires_at, created_at)
  SELECT $4, $2, $3::uuid, $5, $1::numeric, $7::timestamptz, $8::timestamptz
  FROM decision d
  WHERE d.refusal IS NULL
  RETURNING id
)
SELECT d.refusal, d.spendable_micros, d.daily_remaining_micros, d.total_remaining_micros, h.id AS hold_id
FROM decision d LEFT JOIN hold h ON true`,
};

const OLD_RESERVE_HOLD_BATCH: NamedStatement = {
  name: "bench_old_ledger_reserve_hold_batch",
  text: `
WITH input AS (
  SELECT *
  FROM unnest($2::text[], $3::uuid[], $4::text[], $5::numeric[], $6::timestamptz[]) WITH ORDINALITY
    AS t(request_id, key_id, model_id, amount_micros, expires_at, ord)
),
locked_account AS (
  -- A shortfall (the escrow could not pay a voucher in full) stops spending until it is collected.
  SELECT LEAST(b.onchain_available_base * 1000000 - b.unsettled_micros - b.held_micros,
               CASE WHEN b.settlement_shortfall_base > 0 THEN 0 END) AS spendable_micros
  FROM account_balances b
  WHERE b.account = $1
  FOR NO KEY UPDATE
),
locked_keys AS (
  SELECT s.key_id,
         k.daily_spend_cap_base * 1000000 - s.held_micros
           - CASE WHEN s.spend_day >= $7::date THEN s.day_spent_micros ELSE 0 END AS daily_remaining_micros,
         k.total_spend_cap_base * 1000000 - s.held_micros - s.total_spent_micros AS total_remaining_micros
  FROM api_key_spend s
  JOIN api_keys k ON k.id = s.key_id
  CROSS JOIN (SELECT count(*) FROM locked_account) AS after_the_account
  WHERE k.account = $1 AND s.key_id IN (SELECT key_id FROM input)
  ORDER BY s.key_id
  FOR NO KEY UPDATE OF s
),
running AS (
  SELECT i.ord, i.request_id, i.key_id, i.amount_micros, a.spendable_micros,
         k.daily_remaining_micros, k.total_remaining_micros, k.key_id IS NOT NULL AS known_key,
         sum(i.amount_micros) OVER (ORDER BY i.ord) AS account_running_micros,
         sum(i.amount_micros) OVER (PARTITION BY i.key_id ORDER BY i.ord) AS key_running_micros
  FROM input i
  CROSS JOIN locked_account a
  LEFT JOIN locked_keys k ON k.key_id = i.key_id
),
decision AS (
  SELECT r.*,
         CASE WHEN NOT r.known_key THEN 'unknown_key'
              WHEN r.daily_remaining_micros < r.key_running_micros THEN 'daily_spend_cap'
              WHEN r.total_remaining_micros < r.key_running_micros THEN 'total_spend_cap'
              WHEN r.spendable_micros < r.account_running_micros THEN 'insufficient_balance'
         END AS refusal
  FROM running r
),
accepted_by_key AS (
  SELECT key_id, sum(amount_micros) AS amount_micros FROM decision WHERE refusal IS NULL GROUP BY key_id
),
held_by_account AS (
  UPDATE account_balances b
  SET held_micros = b.held_micros + (SELECT sum(amount_micros) FROM accepted_by_key)
  WHERE b.account = $1 AND EXISTS (SELECT 1 FROM accepted_by_key)
),
held_by_keys AS (
  UPDATE api_key_spend s
  SET held_micros = s.held_micros + a.amount_micros
  FROM accepted_by_key a
  WHERE s.key_id = a.key_id
),
holds AS (
  INSERT INTO holds (request_id, account, key_id, model_id, amount_micros, expires_at, created_at)
  SELECT d.request_id, $1, d.key_id, i.model_id, d.amount_micros, i.expires_at, $8::timestamptz
  FROM decision d JOIN input i ON i.ord = d.ord
  WHERE d.refusal IS NULL
  ORDER BY d.ord
  RETURNING id, request_id
)
SELECT d.ord, d.refusal, h.id AS hold_id,
       d.spendable_micros - COALESCE((SELECT sum(amount_micros) FROM accepted_by_key), 0) AS spendable_micros,
       d.daily_remaining_micros - COALESCE(a.amount_micros, 0) AS daily_remaining_micros,
       d.total_remaining_micros - COALESCE(a.amount_micros, 0) AS total_remaining_micros
FROM decision d
LEFT JOIN holds h ON h.request_id = d.request_id
LEFT JOIN accepted_by_key a ON a.key_id = d.key_id
ORDER BY d.ord`,
};

const OLD_COMMIT_USAGE: NamedStatement = {
  name: "bench_old_ledger_commit_usage",
  text: `
WITH recorded AS (
  INSERT INTO usage_records (request_id, account, key_id, model_id, provider_address, upstream_id,
    prompt_tokens, completion_tokens, cached_prompt_tokens, reasoning_tokens, cost_micros,
    estimated, outcome, stream, latency_ms, created_at)
  SELECT $1, k.account, k.id, $5, $6, $7::uuid, $8, $9, $10, $11, $12::numeric,
         $13, $14, $15, $16, $17::timestamptz
  FROM api_keys k
  WHERE k.id = $4::uuid AND k.account = $3
  ON CONFLICT (request_id) DO NOTHING
  RETURNING account, key_id, cost_micros
),
released AS (
  DELETE FROM holds h
  USING recorded r
  WHERE h.id = $2::uuid AND h.account = r.account AND h.key_id = r.key_id
  RETURNING h.amount_micros
),
charged_account AS (
  UPDATE account_balances b
  SET held_micros = b.held_micros - COALESCE((SELECT amount_micros FROM released), 0),
      unsettled_micros = b.unsettled_micros + r.cost_micros
  FROM recorded r
  WHERE b.account = r.account
  RETURNING b.account
),
charged_key AS (
  UPDATE api_key_spend s
  SET held_micros = s.held_micros - COALESCE((SELECT amount_micros FROM released), 0),
      total_spent_micros = s.total_spent_micros + r.cost_micros,
      day_spent_micros = CASE WHEN s.spend_day >= $18::date THEN s.day_spent_micros ELSE 0 END + r.cost_micros,
      spend_day = GREATEST(s.spend_day, $18::date)
  FROM recorded r, charged_account
  WHERE s.key_id = r.key_id
  RETURNING s.key_id
)
SELECT (SELECT count(*) FROM recorded)::int AS recorded,
       (SELECT amount_micros FROM released) AS released_micros,
       (SELECT count(*) FROM charged_key)::int AS charged`,
};

const OLD_COMMIT_USAGE_BATCH: NamedStatement = {
  name: "bench_old_ledger_commit_usage_batch",
  text: `
WITH input AS (
  SELECT *
  FROM unnest($1::text[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::uuid[],
              $8::int[], $9::int[], $10::int[], $11::int[], $12::numeric[], $13::bool[], $14::text[],
              $15::bool[], $16::int[])
    AS t(request_id, hold_id, account, key_id, model_id, provider_address, upstream_id,
         prompt_tokens, completion_tokens, cached_prompt_tokens, reasoning_tokens, cost_micros,
         estimated, outcome, stream, latency_ms)
),
recorded AS (
  INSERT INTO usage_records (request_id, account, key_id, model_id, provider_address, upstream_id,
    prompt_tokens, completion_tokens, cached_prompt_tokens, reasoning_tokens, cost_micros,
    estimated, outcome, stream, latency_ms, created_at)
  SELECT i.request_id, k.account, k.id, i.model_id, i.provider_address, i.upstream_id,
         i.prompt_tokens, i.completion_tokens, i.cached_prompt_tokens, i.reasoning_tokens, i.cost_micros,
         i.estimated, i.outcome, i.stream, i.latency_ms, $17::timestamptz
  FROM input i
  JOIN api_keys k ON k.id = i.key_id AND k.account = i.account
  ORDER BY i.request_id
  ON CONFLICT (request_id) DO NOTHING
  RETURNING request_id, account, key_id, cost_micros
),
released AS (
  DELETE FROM holds h
  USING recorded r JOIN input i ON i.request_id = r.request_id
  WHERE h.id = i.hold_id AND h.account = r.account AND h.key_id = r.key_id
  RETURNING h.account, h.key_id, h.amount_micros
),
account_changes AS (
  SELECT r.account, sum(r.cost_micros) AS charged_micros,
         COALESCE((SELECT sum(x.amount_micros) FROM released x WHERE x.account = r.account), 0) AS returned_micros
  FROM recorded r
  GROUP BY r.account
),
locked_accounts AS (
  SELECT b.account
  FROM account_balances b JOIN account_changes c ON c.account = b.account
  ORDER BY b.account
  FOR NO KEY UPDATE OF b
),
charged_accounts AS (
  UPDATE account_balances b
  SET held_micros = b.held_micros - c.returned_micros,
      unsettled_micros = b.unsettled_micros + c.charged_micros
  FROM account_changes c JOIN locked_accounts l ON l.account = c.account
  WHERE b.account = c.account
  RETURNING b.account
),
key_changes AS (
  SELECT r.key_id, sum(r.cost_micros) AS charged_micros,
         COALESCE((SELECT sum(x.amount_micros) FROM released x WHERE x.key_id = r.key_id), 0) AS returned_micros
  FROM recorded r
  GROUP BY r.key_id
),
locked_keys AS (
  SELECT s.key_id
  FROM api_key_spend s
  JOIN key_changes c ON c.key_id = s.key_id
  CROSS JOIN (SELECT count(*) FROM charged_accounts) AS after_the_accounts
  ORDER BY s.key_id
  FOR NO KEY UPDATE OF s
),
charged_keys AS (
  UPDATE api_key_spend s
  SET held_micros = s.held_micros - c.returned_micros,
      total_spent_micros = s.total_spent_micros + c.charged_micros,
      day_spent_micros = CASE WHEN s.spend_day >= $18::date THEN s.day_spent_micros ELSE 0 END + c.charged_micros,
      spend_day = GREATEST(s.spend_day, $18::date)
  FROM key_changes c JOIN locked_keys l ON l.key_id = c.key_id
  WHERE s.key_id = c.key_id
)
SELECT request_id FROM recorded`,
};

function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

// ---------------------------------------------------------------------------------------------------------------

/** How a variant asks for a group of reserves (one request: the single statement) and commits. */
interface Statements {
  name: string;
  reserveQuery(account: string, requests: HoldRequest[], now: Date): QueryConfig;
  /** `records` sorted by request id, without repeats. */
  commitQuery(records: UsageRecordInput[], now: Date): QueryConfig;
  /** How many of the records a commit's result says it wrote. */
  recorded(rows: QueryResultRow[]): number;
}

/** As the old HoldReserver, UsageCommitter and runNamed did it: a fresh config object per query. */
const OLD: Statements = {
  name: "old",
  reserveQuery(account, requests, now) {
    if (requests.length === 1) {
      const [request] = requests;
      return {
        name: OLD_RESERVE_HOLD.name,
        text: OLD_RESERVE_HOLD.text,
        values: [
          request.amountMicros,
          request.account,
          request.keyId,
          request.requestId,
          request.modelId,
          utcDay(now),
          new Date(now.getTime() + request.ttlMs),
          now,
        ],
      };
    }
    return {
      name: OLD_RESERVE_HOLD_BATCH.name,
      text: OLD_RESERVE_HOLD_BATCH.text,
      values: [
        account,
        requests.map((request) => request.requestId),
        requests.map((request) => request.keyId),
        requests.map((request) => request.modelId),
        requests.map((request) => request.amountMicros.toString()),
        requests.map((request) => new Date(now.getTime() + request.ttlMs)),
        utcDay(now),
        now,
      ],
    };
  },
  commitQuery(records, now) {
    if (records.length === 1) {
      const [record] = records;
      return {
        name: OLD_COMMIT_USAGE.name,
        text: OLD_COMMIT_USAGE.text,
        values: [
          record.requestId,
          record.holdId,
          record.account,
          record.keyId,
          record.modelId,
          record.providerAddress,
          record.upstreamId,
          record.usage.promptTokens,
          record.usage.completionTokens,
          record.cachedPromptTokens,
          record.reasoningTokens,
          record.costMicros,
          record.estimated,
          record.outcome,
          record.stream,
          Math.round(record.latencyMs),
          now,
          utcDay(now),
        ],
      };
    }
    const column = <T>(pick: (record: UsageRecordInput) => T) => records.map(pick);
    return {
      name: OLD_COMMIT_USAGE_BATCH.name,
      text: OLD_COMMIT_USAGE_BATCH.text,
      values: [
        column((record) => record.requestId),
        column((record) => record.holdId),
        column((record) => record.account),
        column((record) => record.keyId),
        column((record) => record.modelId),
        column((record) => record.providerAddress),
        column((record) => record.upstreamId),
        column((record) => record.usage.promptTokens),
        column((record) => record.usage.completionTokens),
        column((record) => record.cachedPromptTokens),
        column((record) => record.reasoningTokens),
        column((record) => record.costMicros.toString()),
        column((record) => record.estimated),
        column((record) => record.outcome),
        column((record) => record.stream),
        column((record) => Math.round(record.latencyMs)),
        now,
        utcDay(now),
      ],
    };
  },
  recorded(rows) {
    // The single statement says how many it wrote; the group statement returned the request ids it wrote.
    return rows.length === 1 && "recorded" in rows[0] ? Number(rows[0].recorded) : rows.length;
  },
};

/** As the ledger now does it (server/persistence/ledger, pgPool.ts: runNamed). */
const NEW: Statements = {
  name: "new",
  reserveQuery(account, requests, now) {
    const nowMs = now.getTime();
    const expiries = requests.map((request) => Math.trunc(nowMs + request.ttlMs));
    return requests.length === 1
      ? namedQuery(RESERVE_HOLD, reserveHoldValues(requests[0], nowMs, expiries[0]))
      : namedQuery(RESERVE_HOLD_BATCH, reserveHoldBatchValues(account, requests, nowMs, expiries));
  },
  commitQuery(records, now) {
    return records.length === 1
      ? namedQuery(COMMIT_USAGE, commitUsageValues(records[0], now.getTime()))
      : namedQuery(COMMIT_USAGE_BATCH, commitUsageBatchValues(records, now.getTime()));
  },
  recorded(rows) {
    return Number(rows[0].recorded);
  },
};

interface Variant {
  name: string;
  /** Places the holds (one request: the single statement; more: the group statement); their ids, in order. */
  reserve(account: string, requests: HoldRequest[]): Promise<string[]>;
  /** Commits the records (one: the single statement; more: the group statement). */
  commit(records: UsageRecordInput[]): Promise<void>;
}

function statementsVariant(pool: Pool, statements: Statements): Variant {
  return {
    name: statements.name,
    async reserve(account, requests) {
      const { rows } = await pool.query<{ hold_id: string | null }>(
        statements.reserveQuery(account, requests, new Date()),
      );
      return rows.map(holdIdOf);
    },
    async commit(records) {
      const { rows } = await pool.query(statements.commitQuery(records, new Date()));
      if (statements.recorded(rows) !== records.length) throw new Error("not every record was written");
    },
  };
}

/** The whole PostgresLedger: grouping queues, result objects and all. */
function ledgerVariant(pool: Pool): Variant {
  const ledger = new PostgresLedger(pool);
  return {
    name: "ledger",
    async reserve(_account, requests) {
      const results = await Promise.all(requests.map((request) => ledger.reserve(request)));
      return results.map((result) => {
        if (!result.ok) throw new Error(`refused: ${result.refusal.reason}`);
        return result.hold.id;
      });
    },
    async commit(records) {
      await Promise.all(records.map((record) => ledger.commit(record)));
    },
  };
}

function holdIdOf(row: { hold_id: string | null } | undefined): string {
  if (!row?.hold_id) throw new Error("no hold placed");
  return row.hold_id;
}

// ---------------------------------------------------------------------------------------------------------------

interface Sample {
  gatewayCpuUs: number;
  wallUs: number;
  postgresCpuUs: number | null;
  walSyncs: number;
}

class Server {
  private constructor(private readonly admin: Client, private readonly database: string) {}

  static async connect(bench: BenchDatabase): Promise<Server> {
    const admin = new Client({ connectionString: bench.serverUrl });
    await admin.connect();
    return new Server(admin, bench.name);
  }

  async walSyncs(): Promise<number> {
    const { rows } = await this.admin.query<{ wal_sync: string }>("SELECT wal_sync FROM pg_stat_wal");
    return Number(rows[0].wal_sync);
  }

  /** CPU seconds of the backends serving the benchmark database, by pid (null: not readable from here). */
  async backendCpu(): Promise<Map<number, number> | null> {
    const { rows } = await this.admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = $1", [
      this.database,
    ]);
    const cpu = new Map<number, number>();
    try {
      for (const { pid } of rows) cpu.set(pid, cpuSeconds(pid));
    } catch {
      return null;
    }
    return cpu;
  }

  async close(): Promise<void> {
    await this.admin.end();
  }
}

function backendCpuDelta(before: Map<number, number> | null, after: Map<number, number> | null): number | null {
  if (!before || !after) return null;
  let seconds = 0;
  for (const [pid, cpu] of after) seconds += cpu - (before.get(pid) ?? 0);
  return seconds;
}

let requestCounter = 0;

function requestsFor(seed: Seed, count: number): HoldRequest[] {
  // Zero-padded, so that creation order is request-id order (the commit group sorts by request id).
  return Array.from({ length: count }, () => ({
    requestId: `bench-${process.pid}-${String(requestCounter++).padStart(10, "0")}`,
    account: seed.account,
    keyId: seed.keyId,
    modelId: MODEL_ID,
    amountMicros: 16_000_000n + BigInt(requestCounter % 1000),
    ttlMs: 300_000,
  }));
}

function usageOf(request: HoldRequest, holdId: string): UsageRecordInput {
  return {
    requestId: request.requestId,
    holdId,
    account: request.account,
    keyId: request.keyId,
    modelId: request.modelId,
    providerAddress: PROVIDER_ADDRESS,
    upstreamId: UPSTREAM_ID,
    usage: { promptTokens: 24, completionTokens: 7 },
    cachedPromptTokens: 0,
    reasoningTokens: 0,
    costMicros: 13_000_000n,
    estimated: false,
    outcome: "completed",
    stream: false,
    latencyMs: 1.7,
  };
}

interface Seed {
  account: string;
  keyId: string;
}

/** `pairs` requests, `groupSize` at a time: reserve them, then commit them. */
async function runPairs(variant: Variant, seed: Seed, pairs: number, groupSize: number): Promise<void> {
  for (let done = 0; done < pairs; done += groupSize) {
    const requests = requestsFor(seed, Math.min(groupSize, pairs - done));
    const holdIds = await variant.reserve(seed.account, requests);
    await variant.commit(requests.map((request, index) => usageOf(request, holdIds[index])));
  }
}

/**
 * Backends publish their statistics (pg_stat_wal among them) at most once a
 * second, and when idle: ask every connection of the pool to publish at once.
 */
async function flushStatistics(pool: Pool): Promise<void> {
  const clients = await Promise.all(Array.from({ length: POOL_SIZE }, () => pool.connect()));
  try {
    await Promise.all(clients.map((client) => client.query("SELECT pg_stat_force_next_flush()")));
  } finally {
    for (const client of clients) client.release();
  }
}

async function measure(server: Server, pool: Pool, variant: Variant, seed: Seed, groupSize: number): Promise<Sample> {
  await flushStatistics(pool);
  await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
  const walBefore = await server.walSyncs();
  const pgBefore = await server.backendCpu();
  const cpuBefore = process.cpuUsage();
  const start = process.hrtime.bigint();
  await runPairs(variant, seed, PAIRS, groupSize);
  const wallNs = Number(process.hrtime.bigint() - start);
  const cpu = process.cpuUsage(cpuBefore);
  const pgAfter = await server.backendCpu();
  await flushStatistics(pool);
  await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
  const walAfter = await server.walSyncs();
  const pgSeconds = backendCpuDelta(pgBefore, pgAfter);
  return {
    gatewayCpuUs: (cpu.user + cpu.system) / PAIRS,
    wallUs: wallNs / 1000 / PAIRS,
    postgresCpuUs: pgSeconds === null ? null : (pgSeconds * 1e6) / PAIRS,
    walSyncs: (walAfter - walBefore) / PAIRS,
  };
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]))
      .join("  ")
      .trimEnd();
  process.stdout.write(`${line(header)}\n${widths.map((width) => "-".repeat(width)).join("  ")}\n`);
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function figure(values: (number | null)[], digits = 0): string {
  if (values.some((value) => value === null)) return "n/a";
  const numbers = values as number[];
  const fixed = (value: number) => value.toFixed(digits);
  return `${fixed(median(numbers))} (${fixed(Math.min(...numbers))}–${fixed(Math.max(...numbers))})`;
}

/**
 * Part 1, no I/O: per request, what happens in the gateway before a byte is
 * sent: the parameters built, node-postgres's Query made from the config (it
 * copies the config), and the Bind message serialised with node-postgres's own
 * `prepareValue` (arrays escaped element by element, Dates formatted). The
 * rest of node-postgres's per-query work (Describe, Execute, parsing the
 * result) is the same for both but for the columns returned; part 2 has it all.
 * CPU µs per request (reserve + commit), process.cpuUsage.
 */
function clientSideCost(statements: Statements, seed: Seed, groupSize: number, requests: number): number {
  const groups = Array.from({ length: Math.ceil(requests / groupSize) }, () => {
    const holdRequests = requestsFor(seed, groupSize);
    return { holdRequests, records: holdRequests.map((request) => usageOf(request, FAKE_HOLD_ID)) };
  });
  const send = (config: QueryConfig) => {
    // node-postgres's Query keeps the copied config's name and values (its type declarations do not say so).
    const query = new Query(config) as unknown as { name?: string; values?: unknown[] };
    return serialize.bind({ statement: query.name, values: query.values, valueMapper: prepareValue }).length;
  };
  let bytes = 0;
  const before = process.cpuUsage();
  for (const { holdRequests, records } of groups) {
    bytes += send(statements.reserveQuery(seed.account, holdRequests, new Date()));
    bytes += send(statements.commitQuery(records, new Date()));
  }
  const used = process.cpuUsage(before);
  if (bytes === 0) throw new Error("nothing serialised");
  return (used.user + used.system) / (groups.length * groupSize);
}

const FAKE_HOLD_ID = "00000000-0000-4000-8000-0000000000ff";

async function seedAccount(db: Database): Promise<Seed> {
  const account = "0x00000000000000000000000000000000000a11ce";
  await db.accounts.setOnChainBalance(account, 1_000_000_000n * 1_000_000n, 0n);
  const { apiKey } = await db.apiKeys.create({ account, name: "bench key" });
  return { account, keyId: apiKey.id };
}

async function main(): Promise<void> {
  const bench = await createBenchDatabase(process.env.DATABASE_URL);
  let db: Database | null = null;
  let server: Server | null = null;
  try {
    db = await openDatabase({ databaseUrl: bench.url, poolSize: POOL_SIZE });
    server = await Server.connect(bench);
    const seed = await seedAccount(db);
    const pool = pgPoolOf(db.dataSource);
    const variants = [statementsVariant(pool, OLD), statementsVariant(pool, NEW), ledgerVariant(pool)];
    const modes = [
      { name: "single", groupSize: 1 },
      { name: `group of ${GROUP}`, groupSize: GROUP },
    ];
    process.stdout.write(
      `ledger statements benchmark: Node ${process.version}, ${bench.description}\n` +
        `${PAIRS} requests (reserve + commit) per variant, mode and round; ${ROUNDS} rounds; medians (min–max)\n\n`,
    );
    // Part 1: client side only, no I/O.
    const clientRequests = 20_000;
    for (const mode of modes)
      for (const statements of [OLD, NEW]) clientSideCost(statements, seed, mode.groupSize, 2000);
    const clientSide = new Map<string, number[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of modes) {
        for (const statements of round % 2 ? [NEW, OLD] : [OLD, NEW]) {
          const key = `${mode.name}\t${statements.name}`;
          clientSide.set(key, [
            ...(clientSide.get(key) ?? []),
            clientSideCost(statements, seed, mode.groupSize, clientRequests),
          ]);
        }
      }
    }
    process.stdout.write(
      `Part 1, no I/O: building the parameters, node-postgres's Query and Bind message; ` +
        `${clientRequests} requests per figure, CPU µs per request (reserve + commit)\n`,
    );
    printTable(
      ["mode", "variant", "CPU µs/req"],
      [...clientSide.entries()].map(([key, list]) => [...key.split("\t"), figure(list, 1)]),
    );
    for (const mode of modes) {
      const cost = (name: string) => median(clientSide.get(`${mode.name}\t${name}`)!);
      process.stdout.write(`${mode.name}: new − old = ${(cost("new") - cost("old")).toFixed(1)} µs per request\n`);
    }

    // Part 2: against Postgres. Warm-up: every statement prepared on every connection it may meet, and the JIT warm.
    for (const variant of variants) for (const mode of modes) await runPairs(variant, seed, 200, mode.groupSize);

    const samples = new Map<string, Sample[]>();
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order, so that no variant always runs first (or right after a pause).
      const ordered = variants.map((_, index) => variants[(index + round) % variants.length]);
      for (const mode of modes) {
        for (const variant of ordered) {
          const key = `${mode.name}\t${variant.name}`;
          const sample = await measure(server, pool, variant, seed, mode.groupSize);
          samples.set(key, [...(samples.get(key) ?? []), sample]);
        }
      }
      process.stderr.write(`part 2: round ${round + 1}/${ROUNDS} done\n`);
    }

    process.stdout.write(
      `\nPart 2, against Postgres, one request (or group) at a time: ${PAIRS} requests per figure, per request\n`,
    );
    printTable(
      ["mode", "variant", "gateway CPU µs", "wall µs", "Postgres CPU µs", "WAL syncs"],
      [...samples.entries()].map(([key, list]) => [
        ...key.split("\t"),
        figure(list.map((sample) => sample.gatewayCpuUs)),
        figure(list.map((sample) => sample.wallUs)),
        figure(list.map((sample) => sample.postgresCpuUs)),
        figure(
          list.map((sample) => sample.walSyncs),
          2,
        ),
      ]),
    );
    for (const mode of modes) {
      const of = (variant: string, pick: (sample: Sample) => number) =>
        median(samples.get(`${mode.name}\t${variant}`)!.map(pick));
      process.stdout.write(
        `${mode.name}: new − old = ${(of("new", (x) => x.gatewayCpuUs) - of("old", (x) => x.gatewayCpuUs)).toFixed(
          0,
        )} µs ` +
          `of gateway CPU, ${(of("new", (x) => x.wallUs) - of("old", (x) => x.wallUs)).toFixed(0)} µs of wall time ` +
          `per request\n`,
      );
    }
  } finally {
    await server?.close();
    await db?.close();
    await bench.drop();
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
