import { expect } from "chai";
import type { Database } from "../../../server/persistence";
import { fundedKey, holdRequest, openTestDatabase, reserveOrFail, usageFor, type OpenedTestDatabase } from "./fixtures";

const TWO_TO_THE_200 = 2n ** 200n;

describe("money columns", () => {
  let opened: OpenedTestDatabase;
  let db: Database;

  before(async () => {
    opened = await openTestDatabase();
    db = opened.db;
  });

  after(async () => {
    await opened.closeAll();
  });

  it("round-trip 2^200 base units of balance exactly, as bigint", async () => {
    const funded = await fundedKey(db, TWO_TO_THE_200, {}, TWO_TO_THE_200 + 1n);
    const balance = await db.accounts.getBalance(funded.account);
    expect(balance).to.include({ onchainAvailableBase: TWO_TO_THE_200, onchainThawingBase: TWO_TO_THE_200 + 1n });
    expect(typeof balance!.onchainAvailableBase).to.equal("bigint");
    expect(balance!.spendableMicros).to.equal(TWO_TO_THE_200 * 1_000_000n);
  });

  it("hold and charge 2^200 micro units, and one more, without a float in between", async () => {
    const funded = await fundedKey(db, TWO_TO_THE_200);
    const request = holdRequest(funded, TWO_TO_THE_200 + 1n);
    const hold = await reserveOrFail(db, request);
    expect(hold.amountMicros).to.equal(TWO_TO_THE_200 + 1n);
    await db.ledger.commit(usageFor(request, hold, TWO_TO_THE_200 + 3n));

    const balance = await db.accounts.getBalance(funded.account);
    expect(balance).to.include({ heldMicros: 0n, unsettledMicros: TWO_TO_THE_200 + 3n });
    expect(balance!.spendableMicros).to.equal(TWO_TO_THE_200 * 1_000_000n - TWO_TO_THE_200 - 3n);
    const [row] = await db.dataSource.query("SELECT cost_micros FROM usage_records WHERE request_id = $1", [
      request.requestId,
    ]);
    expect(BigInt(row.cost_micros)).to.equal(TWO_TO_THE_200 + 3n);
  });

  it("round-trip 2^200 spend caps and model rates", async () => {
    const funded = await fundedKey(db, 1n, {
      dailySpendCapBase: TWO_TO_THE_200,
      totalSpendCapBase: TWO_TO_THE_200 - 1n,
    });
    expect(await db.apiKeys.get(funded.key.id)).to.include({
      dailySpendCapBase: TWO_TO_THE_200,
      totalSpendCapBase: TWO_TO_THE_200 - 1n,
    });
    await db.models.upsert({
      id: "huge-rates",
      ownedBy: "test",
      created: 1_700_000_000,
      contextLength: 8192,
      maxOutputTokens: 1024,
      promptRatePerMTok: TWO_TO_THE_200,
      completionRatePerMTok: TWO_TO_THE_200 + 1n,
    });
    expect(await db.modelCatalog.get("huge-rates")).to.include({
      promptRatePerMTok: TWO_TO_THE_200,
      completionRatePerMTok: TWO_TO_THE_200 + 1n,
    });
  });

  it("are numeric(78,0) in the schema", async () => {
    const rows: {
      table_name: string;
      column_name: string;
      data_type: string;
      numeric_precision: number;
      numeric_scale: number;
    }[] = await db.dataSource.query(
      `SELECT table_name, column_name, data_type, numeric_precision, numeric_scale
         FROM information_schema.columns
         WHERE table_schema = 'public' AND (column_name LIKE '%\\_base' OR column_name LIKE '%\\_micros' OR column_name LIKE '%rate\\_per\\_mtok')`,
    );
    expect(rows.map((row) => `${row.table_name}.${row.column_name}`).sort()).to.deep.equal([
      "account_balances.held_micros",
      "account_balances.onchain_available_base",
      "account_balances.onchain_thawing_base",
      "account_balances.settlement_shortfall_base",
      "account_balances.unsettled_micros",
      "api_key_spend.day_spent_micros",
      "api_key_spend.held_micros",
      "api_key_spend.total_spent_micros",
      "api_keys.daily_spend_cap_base",
      "api_keys.total_spend_cap_base",
      "chain_earnings.claimed_base",
      "chain_earnings.earned_base",
      "chain_earnings.unclaimed_base",
      "chain_pair_settlements.fee_base",
      "chain_pair_settlements.paid_base",
      "chain_pair_settlements.provider_share_base",
      "chain_pair_settlements.settled_base",
      "chain_payer_balances.available_base",
      "chain_payer_balances.thawing_base",
      "chain_settlements.cumulative_base",
      "chain_settlements.fee_base",
      "chain_settlements.ledger_micros",
      "chain_settlements.paid_base",
      "chain_settlements.provider_share_base",
      "holds.amount_micros",
      "models.completion_rate_per_mtok",
      "models.prompt_rate_per_mtok",
      "usage_records.cost_micros",
      "voucher_settlements.paid_base",
      "voucher_settlements.settled_after_base",
      "vouchers.carried_micros",
      "vouchers.cumulative_amount_base",
      "vouchers.paid_base",
      "vouchers.settled_base",
      "vouchers.total_micros",
    ]);
    for (const row of rows) {
      expect(row, `${row.table_name}.${row.column_name}`).to.include({
        data_type: "numeric",
        numeric_precision: 78,
        numeric_scale: 0,
      });
    }
  });
});
