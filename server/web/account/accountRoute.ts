import type { Middleware } from "koa";
import { spendableMicros } from "../../domain/ledger/balance";
import { sessionOf } from "../auth/sessionAuth";
import { amountFromBase, amountFromMicros } from "../http/amount";
import type { WebContext } from "../webContext";

/**
 * `GET /api/account`: the escrow balance as DESIGN.md splits it.
 *
 * - `available`: what new requests may spend, `on-chain available − unsettled − held`, never below 0;
 * - `held`: the worst case of the requests in flight;
 * - `unsettled`: used, metered, not yet paid on-chain;
 * - `thawing`: asked to be withdrawn; not spendable, still settleable; with
 *   `thaw_ends_at` when the chain watcher's mirror knows it;
 * - `onchain_available`: the escrow's own `available`, for reconciling with a block explorer.
 */
export function accountRoute(web: WebContext): Middleware {
  return async (ctx) => {
    const { account } = sessionOf(ctx);
    const [balance, thawEndsAt] = await Promise.all([
      web.stores.accounts.getBalance(account),
      web.thawEndsAt ? web.thawEndsAt(account) : Promise.resolve(null),
    ]);
    const onchainAvailableBase = balance?.onchainAvailableBase ?? 0n;
    const unsettledMicros = balance?.unsettledMicros ?? 0n;
    const heldMicros = balance?.heldMicros ?? 0n;
    const thawingBase = balance?.onchainThawingBase ?? 0n;
    ctx.body = {
      address: account,
      balance: {
        available: amountFromMicros(spendableMicros({ onchainAvailableBase, unsettledMicros, heldMicros })),
        held: amountFromMicros(heldMicros),
        unsettled: amountFromMicros(unsettledMicros),
        thawing: amountFromBase(thawingBase),
        thaw_ends_at: thawingBase > 0n && thawEndsAt ? thawEndsAt.toISOString() : null,
        onchain_available: amountFromBase(onchainAvailableBase),
        updated_at: balance?.updatedAt.toISOString() ?? null,
      },
      chain: {
        chain_id: web.config.chainId,
        escrow_address: web.escrow.escrowAddress,
        token_address: web.escrow.tokenAddress,
      },
    };
  };
}
