import type { Pool } from "pg";
import type { Hold, HoldRefusal, HoldRequest } from "../../domain/ports";
import { nullableBigintFromNumeric } from "../money";
import { isUniqueViolation } from "../pgErrors";
import { runNamed } from "../pgPool";
import { GroupCommitByKey } from "./groupCommitByKey";
import type { BatchOutcomes } from "./groupCommitQueue";
import { RESERVE_HOLD_BATCH, type ReserveHoldBatchRow } from "./reserveBatchStatement";
import { RESERVE_HOLD, type ReserveHoldRow } from "./reserveStatement";
import { utcDay } from "./utcDay";

export type ReserveResult = { ok: true; hold: Hold } | { ok: false; refusal: HoldRefusal };

/**
 * Places holds. Requests of one account that arrive while that account's
 * previous reserve is in flight are decided together by one statement
 * (RESERVE_HOLD_BATCH), so a busy account pays one row lock and one WAL flush
 * per group rather than per request; a lone request uses RESERVE_HOLD.
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
    const now = this.clock();
    const expiries = requests.map((request) => new Date(now.getTime() + request.ttlMs));
    const rows = await runNamed<ReserveHoldBatchRow>(this.pool, RESERVE_HOLD_BATCH, [
      account,
      requests.map((request) => request.requestId),
      requests.map((request) => request.keyId),
      requests.map((request) => request.modelId),
      requests.map((request) => request.amountMicros.toString()),
      expiries,
      utcDay(now),
      now,
    ]);
    if (rows.length === 0) return requests.map(missingBalance);
    return rows.map((row, index) => {
      const request = requests[index];
      if (row.refusal === "unknown_key") return missingBalance(request);
      return resultOf(row, request, expiries[index]);
    });
  }

  private async reserveOne(request: HoldRequest): Promise<ReserveResult> {
    const now = this.clock();
    const expiresAt = new Date(now.getTime() + request.ttlMs);
    let rows: ReserveHoldRow[];
    try {
      rows = await runNamed<ReserveHoldRow>(this.pool, RESERVE_HOLD, [
        request.amountMicros,
        request.account,
        request.keyId,
        request.requestId,
        request.modelId,
        utcDay(now),
        expiresAt,
        now,
      ]);
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

type DecidedRow = Pick<
  ReserveHoldBatchRow,
  "refusal" | "hold_id" | "spendable_micros" | "daily_remaining_micros" | "total_remaining_micros"
>;

function resultOf(row: DecidedRow, request: HoldRequest, expiresAt: Date): ReserveResult {
  if (row.hold_id) {
    return {
      ok: true,
      hold: {
        id: row.hold_id,
        account: request.account,
        keyId: request.keyId,
        amountMicros: request.amountMicros,
        expiresAt,
      },
    };
  }
  const neededMicros = request.amountMicros;
  switch (row.refusal) {
    case "daily_spend_cap":
      return refused({
        reason: "daily_spend_cap",
        remainingMicros: atLeastZero(row.daily_remaining_micros),
        neededMicros,
      });
    case "total_spend_cap":
      return refused({
        reason: "total_spend_cap",
        remainingMicros: atLeastZero(row.total_remaining_micros),
        neededMicros,
      });
    case "insufficient_balance":
      return refused({
        reason: "insufficient_balance",
        spendableMicros: atLeastZero(row.spendable_micros),
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
