import type Router from "@koa/router";
import type { Middleware } from "koa";
import type { Pool } from "pg";
import { GatewayError } from "../../domain/errors/gatewayError";
import { microsToUsdc } from "../../domain/money/usdcDecimal";
import { VoucherRepository } from "../../persistence/vouchers/voucherRepository";
import { providerVouchersOf, providerVouchersToJson } from "../../providers-selfservice/voucherFile";
import { ReceiptBundles, type ReceiptLookup } from "../../receipts/receiptBundles";
import type { EscrowRef } from "../../settlement/receiptBundle";
import { receiptBundleToJson } from "../../settlement/receiptBundle";
import { DEFAULT_SETTLEMENT_SETTINGS } from "../../workers/settlement/settlementSettings";
import { principalMaySee, principalOf } from "../auth/requireAccount";
import { noStore } from "../http/noStore";
import type { WebRouteKit } from "../webApi";

/**
 * The settlement module's /api routes, mounted through `WebDeps.extraRoutes`:
 *
 * - `GET /api/usage/{requestId}/receipt`: the request's receipt bundle, to the API key that made
 *   the request or the account's session; 404 for anyone else (as for an unknown request, so
 *   request ids cannot be probed); 409 `receipt_not_ready` with `Retry-After` while the request is
 *   not in a voucher yet.
 * - `GET /api/providers/{address}/vouchers`: the provider's latest signed voucher per payer.
 *   Public on purpose: see docs/receipts.md ("Who may read a provider's vouchers").
 *
 * ```ts
 * web: { …, extraRoutes: receiptRoutes({ pool: pgPoolOf(database.dataSource), escrow }) }
 * ```
 */
export interface ReceiptRoutesOptions {
  /**
   * The gateway's database (`pgPoolOf(database.dataSource)`), or a function giving it on first
   * use (when the routes are built before the database is opened).
   */
  pool: Pool | (() => Pool);
  /**
   * The escrow vouchers are signed for. A function is asked on each request (the local network
   * learns it after start); null → 503 `settlement_not_configured`. Default: the chain watcher's
   * cursor (the escrow the database mirrors).
   */
  escrow?: EscrowRef | (() => Promise<EscrowRef | null> | EscrowRef | null);
  /** The settlement worker's SETTLEMENT_INTERVAL_MS and SETTLEMENT_POLL_MS (defaults: the worker's). */
  settlementIntervalMs?: number;
  settlementPollMs?: number;
}

export function receiptRoutes(options: ReceiptRoutesOptions): (router: Router, kit: WebRouteKit) => void {
  const poolOf = typeof options.pool === "function" ? options.pool : () => options.pool as Pool;
  const escrowOf = escrowResolver(options.escrow, poolOf);
  const bundles = async () => {
    const escrow = await escrowOf();
    if (!escrow) throw settlementNotConfigured();
    return new ReceiptBundles(poolOf(), {
      escrow,
      settlementIntervalMs: options.settlementIntervalMs ?? DEFAULT_SETTLEMENT_SETTINGS.intervalMs,
      settlementPollMs: options.settlementPollMs ?? DEFAULT_SETTLEMENT_SETTINGS.pollMs,
    });
  };
  return (router, kit) => {
    router.get("/api/usage/:requestId/receipt", ...kit.session, kit.requireAccount, receiptRoute(bundles));
    router.get("/api/providers/:address/vouchers", noStore, providerVouchersRoute(poolOf, escrowOf));
  };
}

function receiptRoute(bundles: () => Promise<ReceiptBundles>): Middleware {
  return async (ctx) => {
    const principal = principalOf(ctx);
    const requestId = String(ctx.params.requestId ?? "");
    const source = await bundles();
    const owner = await source.owner(requestId);
    if (!owner || !principalMaySee(principal, { account: owner.account, keyId: owner.keyId })) {
      throw requestNotFound(requestId);
    }
    const found = await source.lookup(requestId, owner);
    if (found.status === "not_found") throw requestNotFound(requestId);
    if (found.status === "not_vouchered") throw notReady(found, Date.now());
    ctx.body = {
      ...receiptBundleToJson(found.bundle),
      // Informative, not verified (unknown top-level fields are dropped by the bundle's parser).
      voucherState: found.voucherState,
    };
  };
}

function providerVouchersRoute(poolOf: () => Pool, escrowOf: () => Promise<EscrowRef | null>): Middleware {
  return async (ctx) => {
    const vouchers = new VoucherRepository(poolOf());
    const address = String(ctx.params.address ?? "");
    if (!/^0x[0-9a-fA-F]{40}$/.test(address)) {
      throw new GatewayError(400, "invalid_address", "The provider address must be 0x and 40 hex digits.", "address").withHeaders(
        { "x-should-retry": "false" },
      );
    }
    const provider = address.toLowerCase();
    const latest = await vouchers.latestForProvider(provider);
    ctx.body = providerVouchersToJson(providerVouchersOf(provider, await escrowOf(), latest));
  };
}

function escrowResolver(given: ReceiptRoutesOptions["escrow"], poolOf: () => Pool): () => Promise<EscrowRef | null> {
  if (typeof given === "function") return async () => (await given()) ?? null;
  if (given) return async () => given;
  return async () => {
    const { rows } = await poolOf().query<{ chain_id: string; escrow: string }>(
      "SELECT chain_id, escrow FROM chain_cursor LIMIT 1",
    );
    return rows.length ? { address: rows[0].escrow.toLowerCase(), chainId: BigInt(rows[0].chain_id) } : null;
  };
}

const requestNotFound = (requestId: string) =>
  new GatewayError(
    404,
    "request_not_found",
    `No request '${requestId.slice(0, 100)}' made by this API key or account.`,
    "requestId",
  ).withHeaders({ "x-should-retry": "false" });

const settlementNotConfigured = () =>
  new GatewayError(503, "settlement_not_configured", "This gateway does not settle on chain yet: it knows no escrow.");

function notReady(found: Extract<ReceiptLookup, { status: "not_vouchered" }>, now: number): GatewayError {
  const { wait } = found;
  if (wait.expectedBy === null) {
    return new GatewayError(
      409,
      "receipt_not_ready",
      `Request ${found.owner.requestId} is metered but not in a voucher yet: its payer's usage at this provider not yet ` +
        `in a voucher is ${microsToUsdc(wait.unvoucheredMicros)} USDC, below one base unit (0.000001 USDC), and a ` +
        `voucher is only signed once usage reaches a whole base unit (${wait.microsToNextBaseUnit} micro units to go). ` +
        "Its receipt is available as soon as further usage at this provider reaches it.",
    ).withHeaders({ "x-should-retry": "false" });
  }
  const remaining = Math.ceil((wait.expectedBy.getTime() - now) / 1000);
  const seconds = Math.max(1, remaining);
  const when =
    remaining > 0
      ? `by ${wait.expectedBy.toISOString()} at the latest (about ${seconds} s from now); ask again then`
      : "now: it is due, and the settlement worker builds it at its next run; ask again in a few seconds";
  return new GatewayError(
    409,
    "receipt_not_ready",
    `Request ${found.owner.requestId} is metered but not in a signed voucher yet. The settlement worker puts it in one ${when}.`,
  ).withHeaders({ "retry-after": String(seconds) });
}
