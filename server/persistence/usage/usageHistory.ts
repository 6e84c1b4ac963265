import type { Pool } from "pg";
import type { Address } from "../../domain/types";
import { bigintFromNumeric } from "../money";

/** Which of an account's usage records to read. `from` is inclusive, `to` exclusive. */
export interface UsageFilter {
  account: Address;
  keyId?: string;
  modelId?: string;
  from?: Date;
  to?: Date;
}

/**
 * Where a page ended: the last record's `created_at`, as Postgres' exact text
 * (microseconds; a JavaScript Date would lose them), and its request id, which
 * breaks ties between records of the same microsecond.
 */
export interface UsagePosition {
  createdAt: string;
  requestId: string;
}

export interface UsageEntry {
  requestId: string;
  createdAt: Date;
  position: UsagePosition;
  keyId: string;
  keyName: string | null;
  keyPrefix: string | null;
  modelId: string;
  providerAddress: Address;
  promptTokens: number;
  completionTokens: number;
  cachedPromptTokens: number;
  reasoningTokens: number;
  costMicros: bigint;
  estimated: boolean;
  outcome: string;
  stream: boolean;
  latencyMs: number;
}

export interface DailySpend {
  /** UTC day, `YYYY-MM-DD`. */
  day: string;
  costMicros: bigint;
  requests: number;
  promptTokens: number;
  completionTokens: number;
}

interface UsageSqlRow {
  request_id: string;
  created_at: Date;
  position_at: string;
  key_id: string;
  key_name: string | null;
  key_prefix: string | null;
  model_id: string;
  provider_address: string;
  prompt_tokens: number;
  completion_tokens: number;
  cached_prompt_tokens: number;
  reasoning_tokens: number;
  cost_micros: string;
  estimated: boolean;
  outcome: string;
  stream: boolean;
  latency_ms: number;
}

interface DailySqlRow {
  day: string;
  cost_micros: string;
  requests: number;
  prompt_tokens: string;
  completion_tokens: string;
}

/** The exact instant as text, in UTC with microseconds: a cursor that round-trips through `::timestamptz`. */
const EXACT_CREATED_AT = `to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * Usage history for the web API: an account's records, newest first, by keyset
 * pagination on `(created_at, request_id)` (served by
 * `usage_records_account_history_idx`), and spend per UTC day.
 *
 * The WHERE clause is assembled from fixed fragments according to which
 * filters are set, so the planner sees only the conditions in use; every value
 * is a bound parameter, never text in the SQL.
 */
export class UsageHistory {
  constructor(private readonly pool: Pool) {}

  /** Up to `limit` records strictly after `after` (older than it), newest first. */
  async list(filter: UsageFilter, page: { after?: UsagePosition; limit: number }): Promise<UsageEntry[]> {
    const where = new Conditions();
    where.add(filter);
    if (page.after) {
      where.push(
        `(u.created_at, u.request_id) < (${where.param(page.after.createdAt)}::timestamptz, ${where.param(
          page.after.requestId
        )})`
      );
    }
    const limit = where.param(page.limit);
    const { rows } = await this.pool.query<UsageSqlRow>(
      `SELECT u.request_id, u.created_at, ${EXACT_CREATED_AT} AS position_at, u.key_id, k.name AS key_name,
              k.prefix AS key_prefix, u.model_id, u.provider_address, u.prompt_tokens, u.completion_tokens,
              u.cached_prompt_tokens, u.reasoning_tokens, u.cost_micros, u.estimated, u.outcome, u.stream,
              u.latency_ms
       FROM usage_records u
       LEFT JOIN api_keys k ON k.id = u.key_id
       WHERE ${where.sql()}
       ORDER BY u.created_at DESC, u.request_id DESC
       LIMIT ${limit}`,
      where.values
    );
    return rows.map(entryFromRow);
  }

  /** Spend per UTC day over `[from, to)`; days without usage are absent. */
  async daily(filter: UsageFilter & { from: Date; to: Date }): Promise<DailySpend[]> {
    const where = new Conditions();
    where.add(filter);
    const { rows } = await this.pool.query<DailySqlRow>(
      `SELECT to_char((u.created_at AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD') AS day,
              sum(u.cost_micros) AS cost_micros, count(*)::int AS requests,
              sum(u.prompt_tokens) AS prompt_tokens, sum(u.completion_tokens) AS completion_tokens
       FROM usage_records u
       WHERE ${where.sql()}
       GROUP BY 1
       ORDER BY 1`,
      where.values
    );
    return rows.map((row) => ({
      day: row.day,
      costMicros: bigintFromNumeric(row.cost_micros),
      requests: row.requests,
      promptTokens: Number(row.prompt_tokens),
      completionTokens: Number(row.completion_tokens),
    }));
  }
}

class Conditions {
  readonly values: unknown[] = [];
  private readonly clauses: string[] = [];

  param(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }

  push(clause: string): void {
    this.clauses.push(clause);
  }

  add(filter: UsageFilter): void {
    this.push(`u.account = ${this.param(filter.account)}`);
    if (filter.keyId !== undefined) this.push(`u.key_id = ${this.param(filter.keyId)}::uuid`);
    if (filter.modelId !== undefined) this.push(`u.model_id = ${this.param(filter.modelId)}`);
    if (filter.from !== undefined) this.push(`u.created_at >= ${this.param(filter.from)}::timestamptz`);
    if (filter.to !== undefined) this.push(`u.created_at < ${this.param(filter.to)}::timestamptz`);
  }

  sql(): string {
    return this.clauses.join(" AND ");
  }
}

function entryFromRow(row: UsageSqlRow): UsageEntry {
  return {
    requestId: row.request_id,
    createdAt: row.created_at,
    position: { createdAt: row.position_at, requestId: row.request_id },
    keyId: row.key_id,
    keyName: row.key_name,
    keyPrefix: row.key_prefix,
    modelId: row.model_id,
    providerAddress: row.provider_address,
    promptTokens: row.prompt_tokens,
    completionTokens: row.completion_tokens,
    cachedPromptTokens: row.cached_prompt_tokens,
    reasoningTokens: row.reasoning_tokens,
    costMicros: bigintFromNumeric(row.cost_micros),
    estimated: row.estimated,
    outcome: row.outcome,
    stream: row.stream,
    latencyMs: row.latency_ms,
  };
}
