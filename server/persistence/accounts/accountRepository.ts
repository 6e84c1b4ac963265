import type { DataSource } from "typeorm";
import { spendableMicros, type AccountBalance } from "../../domain/ledger/balance";
import type { Address } from "../../domain/types";
import { normalizeAddress } from "../address";
import { AccountBalanceEntity, AccountEntity, type AccountBalanceRow } from "../entities/account";
import { ensureAccount } from "./ensureAccount";

export interface Account {
  address: Address;
  createdAt: Date;
}

/** Accounts and their balance mirror, for the CLI, the tests and the chain watcher. */
export class AccountRepository {
  constructor(private readonly dataSource: DataSource) {}

  async upsert(address: string): Promise<Account> {
    const normalized = normalizeAddress(address);
    await this.dataSource.transaction((manager) => ensureAccount(manager, normalized));
    const row = await this.dataSource.getRepository(AccountEntity).findOneByOrFail({ address: normalized });
    return { address: row.address, createdAt: row.createdAt };
  }

  async list(): Promise<Account[]> {
    const rows = await this.dataSource.getRepository(AccountEntity).find({ order: { address: "ASC" } });
    return rows.map((row) => ({ address: row.address, createdAt: row.createdAt }));
  }

  /**
   * Mirrors the escrow's `balanceOf(payer)`: what the chain watcher writes after
   * each confirmed event (and tests write directly until it exists). Creates the
   * account if needed. Unsettled usage and holds are the ledger's and stay as they are.
   */
  async setOnChainBalance(address: string, availableBase: bigint, thawingBase: bigint): Promise<AccountBalance> {
    if (availableBase < 0n || thawingBase < 0n) {
      throw new RangeError(`on-chain balances cannot be negative: ${availableBase}, ${thawingBase}`);
    }
    const account = normalizeAddress(address);
    await this.dataSource.transaction(async (manager) => {
      await ensureAccount(manager, account);
      await manager
        .getRepository(AccountBalanceEntity)
        .update(
          { account },
          { onchainAvailableBase: availableBase, onchainThawingBase: thawingBase, updatedAt: new Date() },
        );
    });
    return (await this.getBalance(account))!;
  }

  /** The balance a user sees, or null for an address that never had an account. */
  async getBalance(address: string): Promise<AccountBalance | null> {
    const row = await this.dataSource
      .getRepository(AccountBalanceEntity)
      .findOneBy({ account: normalizeAddress(address) });
    return row ? balanceFromRow(row) : null;
  }
}

function balanceFromRow(row: AccountBalanceRow): AccountBalance {
  return {
    account: row.account,
    onchainAvailableBase: row.onchainAvailableBase,
    onchainThawingBase: row.onchainThawingBase,
    unsettledMicros: row.unsettledMicros,
    heldMicros: row.heldMicros,
    spendableMicros: spendableMicros(row),
    updatedAt: row.updatedAt,
  };
}
