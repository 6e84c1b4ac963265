import type { Pool } from "pg";
import type { Hold, HoldRefusal, HoldRequest } from "../../domain/ports";
import { nullableBigintFromNumeric } from "../money";
import { isUniqueViolation } from "../pgErrors";
import { runNamed } from "../pgPool";
import { GroupCommitByKey } from "./groupCommitByKey";
import type { BatchOutcomes } from "./groupCommitQueue";
import { RESERVE_HOLD_BATCH, reserveHoldBatchValues, type ReserveHoldBatchRow } from "./reserveBatchStatement";
import { RESERVE_HOLD, reserveHoldValues, type ReserveHoldRow } from "./reserveStatement";

export type ReserveResult = { ok: true; hold: Hold } | { ok: false; refusal: HoldRefusal };

/**
 * Places holds. Requests of one account that arrive while that account's
 * previous reserve is in flight are decided together by one statement
 * (RESERVE_HOLD_BATCH), so a busy account pays one row lock and one WAL flush
 * per group rather than per request; a lone request uses RESERVE_HOLD.
 *
 * Both statements commit asynchronously (see ledgerSql.ts and docs/ledger.md):
 * a reserve does not wait for its WAL flush. The usage commit that follows it
 * does, and that flush covers the hold too.
 */
export class HoldReserver {
  // One writer per account: a second would only wait for the first's row lock.
  private readonly byAccount = new GroupCommitByKey<HoldRequest, ReserveResult>(
    (account, requests) => this.reserveGroup(account, requests),
    { maxWriters: 1 },
  );

  constructor(private readonly pool: Pool, private readonly clock: () => Date) {}

  reserve(request: HoldRequest): Promise<ReserveResult> {
    if (request.amountMicros < 0n) {
      return Promise.reject(new RangeError(`a hold cannot be negative: ${request.amountMicros}`));
    }
    return this.byAccount.write(request.account, request);
  }

  drained(): Promise<void> {
    return this.byAccount.drained();
  }

  private async reserveGroup(account: string, requests: HoldRequest[]): Promise<BatchOutcomes<ReserveResult>> {
    if (requests.length > 1) {
      try {
        return await this.reserveMany(account, requests);
      } catch {
        // A request the group statement cannot take (a repeated request id) must not fail the others:
        // decide them one by one, in arrival order as the group would have.
      }
    }
    const outcomes: BatchOutcomes<ReserveResult> = [];
    for (const request of requests) outcomes.push(await this.reserveOne(request).catch(asError));
    return outcomes;
  }

  private async reserveMany(account: string, requests: HoldRequest[]): Promise<BatchOutcomes<ReserveResult>> {
    const nowMs = this.clock().getTime();
    const expiries = requests.map((request) => expiryOf(nowMs, request));
    const rows = await runNamed<ReserveHoldBatchRow>(
      this.pool,
      RESERVE_HOLD_BATCH,
      reserveHoldBatchValues(account, requests, nowMs, expiries),
    );
    if (rows.length === 0) return requests.map(missingBalance);
    return rows.map((row, index) => {
      const request = requests[index];
      if (row.refusal === "unknown_key") return missingBalance(request);
      return resultOf(row, request, expiries[index]);
    });
  }

  private async reserveOne(request: HoldRequest): Promise<ReserveResult> {
    const nowMs = this.clock().getTime();
    const expiresAt = expiryOf(nowMs, request);
    let rows: ReserveHoldRow[];
    try {
      rows = await runNamed<ReserveHoldRow>(this.pool, RESERVE_HOLD, reserveHoldValues(request, nowMs, expiresAt));
    } catch (error) {
      if (isUniqueViolation(error, "holds_request_id_unique")) {
        throw new Error(`request ${request.requestId} already has a hold; request ids must be unique`, {
          cause: error,
        });
      }
      throw error;
    }
    if (rows.length === 0) throw missingBalance(request);
    return resultOf(rows[0], request, expiresAt);
  }
}

/**
 * When a hold placed at `nowMs` expires, in epoch ms, as the statements store it. An integer, as
 * `new Date(…)` would make it (TimeClip truncates), so the Hold the caller gets and the row agree.
 */
function expiryOf(nowMs: number, request: HoldRequest): number {
  return Math.trunc(nowMs + request.ttlMs);
}

function resultOf(row: ReserveHoldRow | ReserveHoldBatchRow, request: HoldRequest, expiresAtMs: number): ReserveResult {
  if (row.hold_id) {
    return {
      ok: true,
      hold: {
        id: row.hold_id,
        account: request.account,
        keyId: request.keyId,
        amountMicros: request.amountMicros,
        expiresAt: new Date(expiresAtMs),
        // Read anyway (a hint for sizing the next holds, never for admitting one).
        spendableAfterMicros: nullableBigintFromNumeric(row.remaining_micros) ?? undefined,
      },
    };
  }
  const neededMicros = request.amountMicros;
  switch (row.refusal) {
    case "daily_spend_cap":
      return refused({ reason: "daily_spend_cap", remainingMicros: atLeastZero(row.remaining_micros), neededMicros });
    case "total_spend_cap":
      return refused({ reason: "total_spend_cap", remainingMicros: atLeastZero(row.remaining_micros), neededMicros });
    case "insufficient_balance":
      return refused({
        reason: "insufficient_balance",
        spendableMicros: atLeastZero(row.remaining_micros),
        neededMicros,
      });
    case "unknown_key":
      throw missingBalance(request);
    case null:
      throw new Error("the reserve statement neither placed a hold nor named a refusal");
  }
}

function refused(refusal: HoldRefusal): ReserveResult {
  return { ok: false, refusal };
}

/** Remainders can be negative underneath (a request that cost more than its hold); users see 0. */
function atLeastZero(numeric: string | null): bigint {
  const value = nullableBigintFromNumeric(numeric) ?? 0n;
  return value > 0n ? value : 0n;
}

function missingBalance(request: HoldRequest): Error {
  return new Error(`key ${request.keyId} of account ${request.account} has no balance or spend row`);
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
