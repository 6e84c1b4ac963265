import { expect } from "chai";
import { bumpFees, initialFees } from "../../../server/workers/settlement/feeBump";
import { matchSettledLogs, type BatchedVoucher } from "../../../server/workers/settlement/settledLogs";
import {
  checkThawingPeriod,
  resolveSettlementSettings,
  settlementEnvFrom,
  SettlementConfigError,
} from "../../../server/workers/settlement/settlementSettings";

const A = "0x00000000000000000000000000000000000000a1";
const B = "0x00000000000000000000000000000000000000b2";
const P = "0x00000000000000000000000000000000000000c3";
const root = (n: number) => `0x${n.toString(16).padStart(64, "0")}`;
const KEY = "ab".repeat(32);

function voucher(id: number, payer: string, cumulativeAmountBase: bigint): BatchedVoucher {
  return { id, payer, provider: P, cumulativeAmountBase, usageRoot: root(id) };
}

describe("workers/settlement parts", () => {
  describe("bumpFees", () => {
    it("raises both EIP-1559 fees by at least the bump, rounding up, and never below what the chain asks now", () => {
      const previous = { maxFeePerGas: 1_000n, maxPriorityFeePerGas: 101n, gasPrice: null };
      const bump = bumpFees(previous, { maxFeePerGas: 900n, maxPriorityFeePerGas: 1n, gasPrice: null }, 1250, null);
      expect(bump).to.deep.equal({
        ok: true,
        fees: { maxFeePerGas: 1_125n, maxPriorityFeePerGas: 114n, gasPrice: null },
      });
      const market = bumpFees(
        previous,
        { maxFeePerGas: 5_000n, maxPriorityFeePerGas: 300n, gasPrice: null },
        1250,
        null,
      );
      expect(market).to.deep.equal({
        ok: true,
        fees: { maxFeePerGas: 5_000n, maxPriorityFeePerGas: 300n, gasPrice: null },
      });
    });

    it("bumps a legacy gas price, and refuses a bump the ceiling would cut short", () => {
      const legacy = { maxFeePerGas: null, maxPriorityFeePerGas: null, gasPrice: 80n };
      expect(bumpFees(legacy, legacy, 1250, null)).to.deep.equal({
        ok: true,
        fees: { maxFeePerGas: null, maxPriorityFeePerGas: null, gasPrice: 90n },
      });
      const refused = bumpFees(
        { maxFeePerGas: 1_000n, maxPriorityFeePerGas: 10n, gasPrice: null },
        legacy,
        1250,
        1_100n,
      );
      expect(refused.ok).to.equal(false);
    });

    it("caps the first offer at the ceiling", () => {
      expect(initialFees({ maxFeePerGas: 500n, maxPriorityFeePerGas: 600n, gasPrice: null }, 400n)).to.deep.equal({
        maxFeePerGas: 400n,
        maxPriorityFeePerGas: 400n,
        gasPrice: null,
      });
    });
  });

  describe("matchSettledLogs", () => {
    it("pairs events with the batch in order; vouchers without one were paid nothing", () => {
      const batch = [voucher(1, A, 10n), voucher(2, A, 15n), voucher(3, B, 7n)];
      const outcome = matchSettledLogs(batch, [
        { logIndex: 9, payer: B, provider: P, cumulativeAmount: 4n, paid: 4n, usageRoot: root(3) },
        { logIndex: 4, payer: A, provider: P, cumulativeAmount: 10n, paid: 10n, usageRoot: root(1) },
      ]);
      expect(outcome.paid).to.deep.equal([
        { voucherId: 1, logIndex: 4, paidBase: 10n, settledAfterBase: 10n },
        { voucherId: 3, logIndex: 9, paidBase: 4n, settledAfterBase: 4n },
      ]);
      expect(outcome.unpaid.map((v) => v.id)).to.deep.equal([2]);
    });

    it("refuses an event that belongs to no voucher of the batch", () => {
      expect(() =>
        matchSettledLogs(
          [voucher(1, A, 10n)],
          [{ logIndex: 0, payer: A, provider: P, cumulativeAmount: 10n, paid: 10n, usageRoot: root(99) }],
        ),
      ).to.throw(/matches no voucher/);
    });
  });

  describe("settings", () => {
    it("refuse a thawing period that does not outlast interval + poll + confirmations × block time", () => {
      const settings = resolveSettlementSettings({
        intervalMs: 60_000,
        pollMs: 5_000,
        confirmations: 5,
        blockTimeMs: 2_000,
      });
      expect(() => checkThawingPeriod(75n, settings)).to.throw(SettlementConfigError, /must be longer than/);
      expect(() => checkThawingPeriod(76n, settings)).to.not.throw();
    });

    it("refuse batches above the escrow's 100 and bumps under 12.5%", () => {
      expect(() => resolveSettlementSettings({ batchSize: 101 })).to.throw(/batchSize/);
      expect(() => resolveSettlementSettings({ feeBumpBps: 1000 })).to.throw(/feeBumpBps/);
    });

    it("read the environment, and never echo a key in an error", () => {
      const env = settlementEnvFrom({
        RPC_URL: "http://127.0.0.1:8545",
        ESCROW_ADDRESS: A,
        SETTLEMENT_SIGNER_KEY: KEY,
        SETTLEMENT_SUBMITTER_KEY: `0x${KEY}`,
        SETTLEMENT_BATCH_SIZE: "100",
        SETTLEMENT_THRESHOLD_BASE: "5000000",
        CHAIN_CONFIRMATIONS: "3",
      });
      expect(env.signerKey).to.equal(`0x${KEY}`);
      expect(env.settings.batchSize).to.equal(100);
      expect(env.settings.thresholdBase).to.equal(5_000_000n);
      expect(env.confirmations).to.equal(3);
      const badKey = `${KEY}zz`;
      try {
        settlementEnvFrom({
          RPC_URL: "http://127.0.0.1:8545",
          ESCROW_ADDRESS: A,
          SETTLEMENT_SIGNER_KEY: badKey,
          SETTLEMENT_SUBMITTER_KEY: KEY,
        });
        expect.fail("expected a refusal");
      } catch (error) {
        expect((error as Error).message).to.match(/SETTLEMENT_SIGNER_KEY/);
        expect((error as Error).message).to.not.include(KEY);
      }
      expect(() => settlementEnvFrom({ SETTLEMENT_SIGNER_KEY: KEY })).to.throw(/SETTLEMENT_SUBMITTER_KEY is required/);
      expect(settlementEnvFrom({ SETTLEMENT_SIGNER_KEY: KEY, SETTLEMENT_SUBMITTER_KEY: KEY }).confirmations).to.equal(
        null,
      );
    });
  });
});
