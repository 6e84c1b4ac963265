import type { ClientBase } from "pg";
import { eventFromJson, payerOf, type EscrowEvent } from "../../chain/escrowEvents";
import { EMPTY_PAYER_BALANCE, replayPayerBalance, type PayerBalance } from "../../chain/payerBalance";
import type { Address } from "../../domain/types";

/**
 * What follows from `chain_events`: payer balances (folded in TypeScript by the
 * escrow's rules, `chain/payerBalance.ts`), per-pair settlement totals and
 * per-payee earnings (sums in SQL). Each refresh recomputes the rows of the
 * keys it is given from the events and settlements present in the
 * transaction, so it is idempotent and exact after inserts and deletes alike.
 */

export interface PayerPair {
  payer: Address;
  provider: Address;
}

/**
 * Brings the balances of the payers concerned up to date and copies them to
 * `account_balances` (whose rows the caller has created and locked).
 * - `replay`: payers whose history changed (a rollback removed some of their
 *   events): folded from their whole remaining history, new events included.
 * - `newEvents`: events just inserted, in chain order; the other payers they
 *   concern are folded forward from their stored balance.
 */
export async function refreshPayerBalances(
  tx: ClientBase,
  replay: ReadonlySet<Address>,
  newEvents: readonly EscrowEvent[],
): Promise<Map<Address, PayerBalance>> {
  const balances = new Map<Address, PayerBalance>();
  if (replay.size > 0) {
    const history = await eventsOfPayers(tx, [...replay]);
    for (const payer of replay) balances.set(payer, replayPayerBalance(history.get(payer) ?? []));
  }

  const forward = new Map<Address, EscrowEvent[]>();
  for (const event of newEvents) {
    const payer = payerOf(event);
    if (payer === null || replay.has(payer)) continue;
    forward.set(payer, [...(forward.get(payer) ?? []), event]);
  }
  if (forward.size > 0) {
    const stored = await storedBalances(tx, [...forward.keys()]);
    for (const [payer, events] of forward) {
      balances.set(payer, replayPayerBalance(events, stored.get(payer) ?? EMPTY_PAYER_BALANCE));
    }
  }

  if (balances.size > 0) await writePayerBalances(tx, balances);
  return balances;
}

async function eventsOfPayers(tx: ClientBase, payers: Address[]): Promise<Map<Address, EscrowEvent[]>> {
  const { rows } = await tx.query<{
    payer: string;
    name: string;
    args: unknown;
    block_number: string;
    block_hash: string;
    tx_hash: string;
    log_index: number;
  }>(
    `SELECT payer, name, args, block_number, block_hash, tx_hash, log_index
     FROM chain_events WHERE payer = ANY($1::text[])
     ORDER BY payer, block_number, log_index`,
    [payers],
  );
  const byPayer = new Map<Address, EscrowEvent[]>();
  for (const row of rows) {
    const event = eventFromJson(row.name, row.args, {
      blockNumber: Number(row.block_number),
      blockHash: row.block_hash,
      txHash: row.tx_hash,
      logIndex: row.log_index,
    });
    byPayer.set(row.payer, [...(byPayer.get(row.payer) ?? []), event]);
  }
  return byPayer;
}

async function storedBalances(tx: ClientBase, payers: Address[]): Promise<Map<Address, PayerBalance>> {
  const { rows } = await tx.query<{
    payer: string;
    available_base: string;
    thawing_base: string;
    thaw_ends_at: string;
  }>(
    `SELECT payer, available_base, thawing_base, thaw_ends_at FROM chain_payer_balances WHERE payer = ANY($1::text[])`,
    [payers],
  );
  return new Map(
    rows.map((row) => [
      row.payer,
      {
        availableBase: BigInt(row.available_base),
        thawingBase: BigInt(row.thawing_base),
        thawEndsAt: BigInt(row.thaw_ends_at),
      },
    ]),
  );
}

async function writePayerBalances(tx: ClientBase, balances: Map<Address, PayerBalance>): Promise<void> {
  const payers = [...balances.keys()];
  const available = payers.map((payer) => balances.get(payer)!.availableBase.toString());
  const thawing = payers.map((payer) => balances.get(payer)!.thawingBase.toString());
  const thawEndsAt = payers.map((payer) => balances.get(payer)!.thawEndsAt.toString());
  await tx.query(
    `INSERT INTO chain_payer_balances (payer, available_base, thawing_base, thaw_ends_at, updated_at)
     SELECT payer, available, thawing, thaw_ends_at, now()
     FROM unnest($1::text[], $2::numeric[], $3::numeric[], $4::bigint[]) AS u(payer, available, thawing, thaw_ends_at)
     ON CONFLICT (payer) DO UPDATE SET available_base = EXCLUDED.available_base,
       thawing_base = EXCLUDED.thawing_base, thaw_ends_at = EXCLUDED.thaw_ends_at, updated_at = now()`,
    [payers, available, thawing, thawEndsAt],
  );
  await tx.query(
    `UPDATE account_balances b
     SET onchain_available_base = u.available, onchain_thawing_base = u.thawing, updated_at = now()
     FROM unnest($1::text[], $2::numeric[], $3::numeric[]) AS u(account, available, thawing)
     WHERE b.account = u.account`,
    [payers, available, thawing],
  );
}

/** Recomputes `chain_pair_settlements` for `pairs` from `chain_settlements`; a pair with none left is removed. */
export async function refreshPairSettlements(tx: ClientBase, pairs: readonly PayerPair[]): Promise<void> {
  if (pairs.length === 0) return;
  await tx.query(
    `WITH pairs AS (
       SELECT DISTINCT payer, provider FROM unnest($1::text[], $2::text[]) AS p(payer, provider)
     ),
     totals AS (
       SELECT s.payer, s.provider, sum(s.paid_base) AS paid, sum(s.provider_share_base) AS provider_share,
              sum(s.fee_base) AS fee, count(*)::int AS settlements
       FROM chain_settlements s JOIN pairs p ON p.payer = s.payer AND p.provider = s.provider
       GROUP BY s.payer, s.provider
     ),
     latest AS (
       SELECT DISTINCT ON (s.payer, s.provider) s.payer, s.provider, s.cumulative_base, s.tx_hash, s.block_number
       FROM chain_settlements s JOIN pairs p ON p.payer = s.payer AND p.provider = s.provider
       ORDER BY s.payer, s.provider, s.block_number DESC, s.log_index DESC
     ),
     emptied AS (
       DELETE FROM chain_pair_settlements c USING pairs p
       WHERE c.payer = p.payer AND c.provider = p.provider
         AND NOT EXISTS (SELECT 1 FROM totals t WHERE t.payer = p.payer AND t.provider = p.provider)
     )
     INSERT INTO chain_pair_settlements (payer, provider, settled_base, paid_base, provider_share_base, fee_base,
       settlement_count, last_tx_hash, last_block_number, updated_at)
     SELECT t.payer, t.provider, l.cumulative_base, t.paid, t.provider_share, t.fee, t.settlements,
            l.tx_hash, l.block_number, now()
     FROM totals t JOIN latest l ON l.payer = t.payer AND l.provider = t.provider
     ON CONFLICT (payer, provider) DO UPDATE SET settled_base = EXCLUDED.settled_base,
       paid_base = EXCLUDED.paid_base, provider_share_base = EXCLUDED.provider_share_base,
       fee_base = EXCLUDED.fee_base, settlement_count = EXCLUDED.settlement_count,
       last_tx_hash = EXCLUDED.last_tx_hash, last_block_number = EXCLUDED.last_block_number, updated_at = now()`,
    [pairs.map((pair) => pair.payer), pairs.map((pair) => pair.provider)],
  );
}

/**
 * Recomputes `chain_earnings` for `payees`: provider shares and treasury fees
 * earned, minus what Claimed events drew; a payee with neither is removed.
 */
export async function refreshEarnings(tx: ClientBase, payees: readonly Address[]): Promise<void> {
  if (payees.length === 0) return;
  await tx.query(
    `WITH payees AS (SELECT DISTINCT payee FROM unnest($1::text[]) AS p(payee)),
     totals AS (
       SELECT p.payee,
         COALESCE((SELECT sum(s.provider_share_base) FROM chain_settlements s WHERE s.provider = p.payee), 0)
           + COALESCE((SELECT sum(s.fee_base) FROM chain_settlements s WHERE s.treasury = p.payee), 0) AS earned,
         COALESCE((SELECT sum((e.args->>'amount')::numeric) FROM chain_events e
                   WHERE e.payee = p.payee AND e.name = 'Claimed'), 0) AS claimed
       FROM payees p
     ),
     emptied AS (
       DELETE FROM chain_earnings c USING totals t
       WHERE c.payee = t.payee AND t.earned = 0 AND t.claimed = 0
     )
     INSERT INTO chain_earnings (payee, earned_base, claimed_base, unclaimed_base, updated_at)
     SELECT payee, earned, claimed, earned - claimed, now() FROM totals WHERE earned <> 0 OR claimed <> 0
     ON CONFLICT (payee) DO UPDATE SET earned_base = EXCLUDED.earned_base, claimed_base = EXCLUDED.claimed_base,
       unclaimed_base = EXCLUDED.unclaimed_base, updated_at = now()`,
    [payees],
  );
}
