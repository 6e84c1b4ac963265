import type { EntityManager } from "typeorm";
import { AccountBalanceEntity, AccountEntity } from "../entities/account";

/**
 * Creates the account and its (empty) balance row if they do not exist yet. Every
 * account has a balance row: the ledger's statements lock it and rely on it.
 * `address` must already be normalised.
 */
export async function ensureAccount(manager: EntityManager, address: string): Promise<void> {
  await manager.createQueryBuilder().insert().into(AccountEntity).values({ address }).orIgnore().execute();
  await manager
    .createQueryBuilder()
    .insert()
    .into(AccountBalanceEntity)
    .values({ account: address })
    .orIgnore()
    .execute();
}
