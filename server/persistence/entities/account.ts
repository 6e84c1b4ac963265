import { EntitySchema } from "typeorm";
import { createdAtColumn, moneyColumn, timestampColumn } from "./columns";

export interface AccountRow {
  address: string;
  createdAt: Date;
}

export const AccountEntity = new EntitySchema<AccountRow>({
  name: "Account",
  tableName: "accounts",
  columns: {
    address: { type: "text", primary: true },
    createdAt: createdAtColumn,
  },
  checks: [{ name: "accounts_address_format", expression: `address ~ '^0x[0-9a-f]{40}$'` }],
});

export interface AccountBalanceRow {
  account: string;
  onchainAvailableBase: bigint;
  onchainThawingBase: bigint;
  unsettledMicros: bigint;
  heldMicros: bigint;
  /** What the escrow could not pay of this account's vouchers (a short deposit); reserves are refused while above 0. */
  settlementShortfallBase: bigint;
  updatedAt: Date;
}

export const AccountBalanceEntity = new EntitySchema<AccountBalanceRow>({
  name: "AccountBalance",
  tableName: "account_balances",
  columns: {
    account: { type: "text", primary: true },
    onchainAvailableBase: moneyColumn("onchain_available_base", { default: 0 }),
    onchainThawingBase: moneyColumn("onchain_thawing_base", { default: 0 }),
    unsettledMicros: moneyColumn("unsettled_micros", { default: 0 }),
    heldMicros: moneyColumn("held_micros", { default: 0 }),
    settlementShortfallBase: moneyColumn("settlement_shortfall_base", { default: 0 }),
    updatedAt: timestampColumn("updated_at", { default: () => "now()" }),
  },
  foreignKeys: [
    {
      name: "account_balances_account_fk",
      target: "Account",
      columnNames: ["account"],
      referencedColumnNames: ["address"],
    },
  ],
  checks: [
    {
      name: "account_balances_non_negative",
      expression:
        "onchain_available_base >= 0 AND onchain_thawing_base >= 0 AND unsettled_micros >= 0 AND held_micros >= 0",
    },
  ],
});
