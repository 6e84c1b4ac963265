import type { ClientBase, Pool } from "pg";
import type { Address } from "../../domain/types";

/** The last block the watcher applied (`blockHash` null: none yet, the cursor sits before the deployment block). */
export interface CursorPosition {
  blockNumber: number;
  blockHash: string | null;
}

/** Which escrow this database mirrors, and how far. */
export interface ChainCursor extends CursorPosition {
  chainId: bigint;
  escrow: Address;
  deploymentBlock: number;
  updatedAt: Date;
}

/** The escrow a watcher is told to follow. */
export interface FollowedEscrow {
  chainId: bigint;
  escrow: Address;
  deploymentBlock: number;
}

/** Another writer moved the cursor since this tick read it (two leaders for a moment): the tick is dropped. */
export class CursorMovedError extends Error {
  constructor(expected: CursorPosition, found: CursorPosition | null) {
    super(
      `the chain cursor moved under this tick: expected block ${expected.blockNumber} (${expected.blockHash}), ` +
        `found ${found ? `${found.blockNumber} (${found.blockHash})` : "no cursor"}`,
    );
    this.name = "CursorMovedError";
  }
}

/** The database mirrors another escrow or chain than the one the watcher was told to follow. */
export class ForeignEscrowError extends Error {
  constructor(stored: ChainCursor, wanted: FollowedEscrow) {
    super(
      `this database mirrors escrow ${stored.escrow} on chain ${stored.chainId}, not escrow ${wanted.escrow} on ` +
        `chain ${wanted.chainId}; follow that escrow, use another database, or (local chains) allow an escrow change`,
    );
    this.name = "ForeignEscrowError";
  }
}

interface CursorRow {
  chain_id: string;
  escrow: string;
  deployment_block: string;
  block_number: string;
  block_hash: string | null;
  updated_at: Date;
}

const CURSOR_COLUMNS = "chain_id, escrow, deployment_block, block_number, block_hash, updated_at";

function cursorFromRow(row: CursorRow): ChainCursor {
  return {
    chainId: BigInt(row.chain_id),
    escrow: row.escrow,
    deploymentBlock: Number(row.deployment_block),
    blockNumber: Number(row.block_number),
    blockHash: row.block_hash,
    updatedAt: row.updated_at,
  };
}

export async function readCursor(db: Pool | ClientBase): Promise<ChainCursor | null> {
  const { rows } = await db.query<CursorRow>(`SELECT ${CURSOR_COLUMNS} FROM chain_cursor`);
  return rows.length === 0 ? null : cursorFromRow(rows[0]);
}

/** The cursor, locked until the transaction ends: the one row every writer of chain state takes first. */
export async function lockCursor(tx: ClientBase): Promise<ChainCursor | null> {
  const { rows } = await tx.query<CursorRow>(`SELECT ${CURSOR_COLUMNS} FROM chain_cursor FOR UPDATE`);
  return rows.length === 0 ? null : cursorFromRow(rows[0]);
}

/** Creates the cursor before the deployment block of `escrow`; a no-op if one exists. */
export async function createCursor(tx: ClientBase, escrow: FollowedEscrow): Promise<void> {
  await tx.query(
    `INSERT INTO chain_cursor (chain_id, escrow, deployment_block, block_number, block_hash)
     VALUES ($1, $2, $3, $3::bigint - 1, NULL)
     ON CONFLICT (singleton) DO NOTHING`,
    [escrow.chainId.toString(), escrow.escrow, escrow.deploymentBlock],
  );
}

/** Points the (rolled back, empty) cursor at another escrow. */
export async function retargetCursor(tx: ClientBase, escrow: FollowedEscrow): Promise<void> {
  await tx.query(
    `UPDATE chain_cursor SET chain_id = $1, escrow = $2, deployment_block = $3, block_number = $3::bigint - 1,
       block_hash = NULL, updated_at = now()`,
    [escrow.chainId.toString(), escrow.escrow, escrow.deploymentBlock],
  );
}

export async function moveCursor(tx: ClientBase, position: CursorPosition): Promise<void> {
  await tx.query(`UPDATE chain_cursor SET block_number = $1, block_hash = $2, updated_at = now()`, [
    position.blockNumber,
    position.blockHash,
  ]);
}

export function samePosition(a: CursorPosition, b: CursorPosition): boolean {
  return a.blockNumber === b.blockNumber && a.blockHash === b.blockHash;
}
