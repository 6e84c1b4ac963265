import type { ClientBase, Pool } from "pg";
import type { BlockRef } from "../../chain/chainReader";
import { eventArgsToJson, payerOf, type EscrowEvent } from "../../chain/escrowEvents";
import type { Address } from "../../domain/types";
import {
  CursorMovedError,
  lockCursor,
  moveCursor,
  samePosition,
  type ChainCursor,
  type CursorPosition,
} from "./chainCursor";
import { refreshEarnings, refreshPairSettlements, refreshPayerBalances, type PayerPair } from "./derivedState";
import { applySettlementToLedger, revertSettlementFromLedger } from "./settlementLedger";
import { inTransaction } from "./transaction";

/** Everything one watcher tick writes; applied in one transaction, or not at all. */
export interface ChainTickChange {
  /** The cursor the tick read its chain data against. If the stored one differs, another writer got there first. */
  expectedCursor: CursorPosition;
  /** Roll back every event after this block first (the deployment block − 1: all of them); null: no rollback. */
  rollbackAfter: number | null;
  /** The confirmed events after the (rolled back) cursor up to `newCursor`, in chain order. */
  events: readonly EscrowEvent[];
  newCursor: CursorPosition;
  /** Blocks to remember, to recognise a reorganisation later (event blocks and `newCursor`'s). */
  blocks: readonly BlockRef[];
  /**
   * Remembered blocks below this height are forgotten, except the newest of
   * them, so a reorganisation back to this height still finds a common block.
   */
  forgetBelow: number;
}

export interface AppliedChainTick {
  eventsApplied: number;
  eventsRolledBack: number;
  /** Payers whose on-chain balance was rewritten. */
  payersUpdated: Address[];
}

export function applyChainTick(pool: Pool, change: ChainTickChange): Promise<AppliedChainTick> {
  return inTransaction(pool, (tx) => applyChainTickIn(tx, change));
}

/**
 * The tick's writes, in the caller's transaction. Row locks are taken in one
 * order: the cursor row first (it serialises chain writers), then the payers'
 * balance rows in account order (the ledger's rule, docs/ledger.md), so the
 * watcher cannot deadlock with reserves and commits.
 */
export async function applyChainTickIn(tx: ClientBase, change: ChainTickChange): Promise<AppliedChainTick> {
  const cursor = await lockCursor(tx);
  if (!cursor || !samePosition(cursor, change.expectedCursor))
    throw new CursorMovedError(change.expectedCursor, cursor);

  const rollback = change.rollbackAfter === null ? null : await readRollback(tx, change.rollbackAfter);
  const newPayers = change.events.map(payerOf).filter((payer): payer is Address => payer !== null);
  await ensureAndLockBalances(tx, [...(rollback?.payers ?? []), ...newPayers]);

  if (rollback) await rollBack(tx, rollback, cursor);
  const settlements = await insertEvents(tx, change.events);

  const balances = await refreshPayerBalances(tx, new Set(rollback?.payers), change.events);
  await refreshPairSettlements(tx, [...(rollback?.pairs ?? []), ...settlements]);
  await refreshEarnings(tx, [
    ...(rollback?.payees ?? []),
    ...settlements.flatMap((s) => (s.treasury ? [s.provider, s.treasury] : [s.provider])),
    ...change.events.flatMap((event) => (event.name === "Claimed" ? [event.args.payee] : [])),
  ]);

  await moveCursor(tx, change.newCursor);
  await rememberBlocks(tx, change.blocks, change.forgetBelow);
  return {
    eventsApplied: change.events.length,
    eventsRolledBack: rollback?.eventCount ?? 0,
    payersUpdated: [...balances.keys()].sort(),
  };
}

interface Rollback {
  after: number;
  eventCount: number;
  payers: Address[];
  payees: Address[];
  pairs: PayerPair[];
  /** Per payer, the micros its rolled-back Settled events took off unsettled usage. */
  ledgerMicros: Array<{ payer: Address; micros: bigint }>;
}

async function readRollback(tx: ClientBase, after: number): Promise<Rollback> {
  // One query at a time: a transaction is one connection.
  const count = await tx.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM chain_events WHERE block_number > $1`,
    [after],
  );
  const payers = await tx.query<{ payer: string }>(
    `SELECT DISTINCT payer FROM chain_events WHERE block_number > $1 AND payer IS NOT NULL`,
    [after],
  );
  const payees = await tx.query<{ payee: string }>(
    `SELECT payee FROM chain_events WHERE block_number > $1 AND payee IS NOT NULL
     UNION SELECT provider FROM chain_settlements WHERE block_number > $1
     UNION SELECT treasury FROM chain_settlements WHERE block_number > $1 AND treasury IS NOT NULL`,
    [after],
  );
  const pairs = await tx.query<PayerPair>(
    `SELECT DISTINCT payer, provider FROM chain_settlements WHERE block_number > $1`,
    [after],
  );
  const ledger = await tx.query<{ payer: string; micros: string }>(
    `SELECT payer, sum(ledger_micros) AS micros FROM chain_settlements WHERE block_number > $1
     GROUP BY payer ORDER BY payer`,
    [after],
  );
  return {
    after,
    eventCount: count.rows[0].count,
    payers: payers.rows.map((row) => row.payer),
    payees: payees.rows.map((row) => row.payee),
    pairs: pairs.rows,
    ledgerMicros: ledger.rows.map((row) => ({ payer: row.payer, micros: BigInt(row.micros) })),
  };
}

/** Gives back what the rolled-back settlements took off unsettled usage, then deletes the events. */
async function rollBack(tx: ClientBase, rollback: Rollback, cursor: ChainCursor): Promise<void> {
  for (const { payer, micros } of rollback.ledgerMicros) await revertSettlementFromLedger(tx, payer, micros);
  // chain_settlements rows go with their events (ON DELETE CASCADE).
  await tx.query(`DELETE FROM chain_events WHERE block_number > $1`, [rollback.after]);
  await tx.query(`DELETE FROM chain_blocks WHERE block_number > $1`, [rollback.after]);
  await tx.query(
    `INSERT INTO chain_reorgs (common_block, previous_cursor_block, previous_cursor_hash, events_removed)
     VALUES ($1, $2, $3, $4)`,
    [rollback.after, cursor.blockNumber, cursor.blockHash, rollback.eventCount],
  );
}

/**
 * Every balance row the tick writes exists (the watcher creates the account of
 * a payer it has not seen, as `setOnChainBalance` does) and is locked, in
 * account order, before any of them is changed.
 */
async function ensureAndLockBalances(tx: ClientBase, payers: Address[]): Promise<void> {
  if (payers.length === 0) return;
  const accounts = [...new Set(payers)].sort();
  await tx.query(
    `INSERT INTO accounts (address) SELECT a FROM unnest($1::text[]) AS a ORDER BY a ON CONFLICT DO NOTHING`,
    [accounts],
  );
  await tx.query(
    `INSERT INTO account_balances (account) SELECT a FROM unnest($1::text[]) AS a ORDER BY a ON CONFLICT DO NOTHING`,
    [accounts],
  );
  await tx.query(
    `SELECT account FROM account_balances WHERE account = ANY($1::text[]) ORDER BY account FOR NO KEY UPDATE`,
    [accounts],
  );
}

interface InsertedSettlement extends PayerPair {
  treasury: Address | null;
}

/**
 * Records the events and, for each Settled, its settlement row and its effect on
 * the ledger. A plain INSERT: an event already recorded means the cursor logic
 * is broken, and failing the tick is better than applying it twice.
 */
async function insertEvents(tx: ClientBase, events: readonly EscrowEvent[]): Promise<InsertedSettlement[]> {
  if (events.length === 0) return [];
  await tx.query(
    `INSERT INTO chain_events (tx_hash, log_index, block_number, block_hash, name, args, payer, payee)
     SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::text[], $5::text[], $6::jsonb[], $7::text[], $8::text[])`,
    [
      events.map((event) => event.txHash),
      events.map((event) => event.logIndex),
      events.map((event) => event.blockNumber),
      events.map((event) => event.blockHash),
      events.map((event) => event.name),
      events.map((event) => JSON.stringify(eventArgsToJson(event))),
      events.map(payerOf),
      events.map((event) => (event.name === "Claimed" ? event.args.payee : null)),
    ],
  );

  // Fees accrue to whoever is the treasury when the Settled event happens.
  let treasury = await currentTreasury(tx, events[0]);
  const rows: Array<{
    event: Extract<EscrowEvent, { name: "Settled" }>;
    treasury: Address | null;
    ledgerMicros: bigint;
  }> = [];
  for (const event of events) {
    if (event.name === "TreasuryChanged") treasury = event.args.newTreasury;
    if (event.name !== "Settled") continue;
    const ledgerMicros = await applySettlementToLedger(tx, event.args.payer, event.args.paid);
    rows.push({ event, treasury, ledgerMicros });
  }
  if (rows.length === 0) return [];
  await tx.query(
    `INSERT INTO chain_settlements (tx_hash, log_index, block_number, payer, provider, cumulative_base, paid_base,
       provider_share_base, fee_base, usage_root, treasury, ledger_micros)
     SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::text[], $5::text[], $6::numeric[], $7::numeric[],
       $8::numeric[], $9::numeric[], $10::text[], $11::text[], $12::numeric[])`,
    [
      rows.map(({ event }) => event.txHash),
      rows.map(({ event }) => event.logIndex),
      rows.map(({ event }) => event.blockNumber),
      rows.map(({ event }) => event.args.payer),
      rows.map(({ event }) => event.args.provider),
      rows.map(({ event }) => event.args.cumulativeAmount.toString()),
      rows.map(({ event }) => event.args.paid.toString()),
      rows.map(({ event }) => event.args.providerShare.toString()),
      rows.map(({ event }) => event.args.fee.toString()),
      rows.map(({ event }) => event.args.usageRoot),
      rows.map((row) => row.treasury),
      rows.map((row) => row.ledgerMicros.toString()),
    ],
  );
  return rows.map(({ event, treasury: feeTo }) => ({
    payer: event.args.payer,
    provider: event.args.provider,
    treasury: feeTo,
  }));
}

/**
 * The treasury before `first`: the newest TreasuryChanged already applied. The
 * escrow's constructor emits one in the deployment block, so a watcher that
 * starts there always knows it; one that starts later records fees with no
 * treasury (null) until the next change.
 */
async function currentTreasury(tx: ClientBase, first: EscrowEvent): Promise<Address | null> {
  const { rows } = await tx.query<{ treasury: string }>(
    `SELECT args->>'newTreasury' AS treasury FROM chain_events
     WHERE name = 'TreasuryChanged' AND (block_number, log_index) < ($1, $2)
     ORDER BY block_number DESC, log_index DESC LIMIT 1`,
    [first.blockNumber, first.logIndex],
  );
  return rows.length === 0 ? null : rows[0].treasury;
}

async function rememberBlocks(tx: ClientBase, blocks: readonly BlockRef[], forgetBelow: number): Promise<void> {
  const unique = new Map(blocks.map((block) => [block.number, block.hash]));
  if (unique.size > 0) {
    await tx.query(
      `INSERT INTO chain_blocks (block_number, block_hash)
       SELECT * FROM unnest($1::bigint[], $2::text[])
       ON CONFLICT (block_number) DO UPDATE SET block_hash = EXCLUDED.block_hash`,
      [[...unique.keys()], [...unique.values()]],
    );
  }
  await tx.query(
    `DELETE FROM chain_blocks
     WHERE block_number < (SELECT max(block_number) FROM chain_blocks WHERE block_number <= $1)`,
    [forgetBelow],
  );
}
