import { expect } from "chai";
import { costMicros } from "../../../server/domain/types";
import { MICROS_PER_BASE } from "../../../server/settlement/cumulative";
import { buildNextVoucher } from "../../../server/settlement/nextVoucher";
import { buildUsageTree, verifyUsageProof } from "../../../server/settlement/usageTree";
import { OTHER, PAYER, PROVIDER, receiptOf } from "./helpers/receipts";
import { prngOf, seedFromEnv } from "./helpers/prng";

const SEED = seedFromEnv();

describe(`settlement/nextVoucher (SETTLEMENT_SEED=${SEED})`, function () {
  it("states the floor of everything metered and roots exactly its own receipts", function () {
    const receipts = [
      receiptOf(1, { costMicros: 400_000n }),
      receiptOf(2, { costMicros: 400_000n }),
      receiptOf(3, { costMicros: 400_000n }),
    ];
    const next = buildNextVoucher({ payer: PAYER, provider: PROVIDER, previousTotalMicros: 0n, receipts });
    expect(next.voucher).to.deep.equal({
      payer: PAYER,
      provider: PROVIDER,
      cumulativeAmount: 1n,
      usageRoot: buildUsageTree(receipts).root,
    });
    expect(next.totalMicros).to.equal(1_200_000n);
    expect(next.carriedMicros).to.equal(200_000n);
    expect(next.incrementBase).to.equal(1n);
    expect(verifyUsageProof(next.voucher.usageRoot, receipts[1], next.tree.proofOf("req-2"))).to.equal(true);
  });

  it("follows the worked example of docs/settlement.md", function () {
    const pricing = { promptRatePerMTok: 250_000n, completionRatePerMTok: 1_000_000n };
    const request = (id: string, promptTokens: number, completionTokens: number) =>
      receiptOf(0, {
        requestId: id,
        promptTokens,
        completionTokens,
        costMicros: costMicros({ promptTokens, completionTokens }, pricing),
      });
    const [a, b, c, d] = [request("A", 1_234, 567), request("B", 3, 0), request("C", 1, 0), request("D", 2, 0)];
    const pair = { payer: PAYER, provider: PROVIDER };

    const first = buildNextVoucher({ ...pair, previousTotalMicros: 0n, receipts: [a] });
    expect([first.voucher.cumulativeAmount, first.incrementBase, first.carriedMicros]).to.deep.equal([
      875n,
      875n,
      500_000n,
    ]);
    const second = buildNextVoucher({ ...pair, previousTotalMicros: first.totalMicros, receipts: [b] });
    expect([second.voucher.cumulativeAmount, second.incrementBase, second.carriedMicros]).to.deep.equal([
      876n,
      1n,
      250_000n,
    ]);
    expect(() => buildNextVoucher({ ...pair, previousTotalMicros: second.totalMicros, receipts: [c] })).to.throw(
      /add nothing/,
    );
    const third = buildNextVoucher({ ...pair, previousTotalMicros: second.totalMicros, receipts: [c, d] });
    expect([third.voucher.cumulativeAmount, third.incrementBase, third.carriedMicros]).to.deep.equal([877n, 1n, 0n]);
    expect(third.tree.size).to.equal(2);
  });

  it("chains: each voucher's total is the next one's previous, and the increments add up to the floor", function () {
    const random = prngOf(SEED);
    let previousTotalMicros = 0n;
    let incrementsBase = 0n;
    let pending: ReturnType<typeof receiptOf>[] = [];
    let lastCumulative = 0n;
    for (let n = 0; n < 500; n++) {
      pending.push(receiptOf(n, { costMicros: BigInt(random.below(3_000_000)) }));
      const pendingMicros = pending.reduce((sum, r) => sum + r.costMicros, 0n);
      // Like the worker: only when a whole base unit has been added.
      if ((previousTotalMicros + pendingMicros) / MICROS_PER_BASE === lastCumulative) continue;
      if (random.below(3) !== 0) continue;
      const next = buildNextVoucher({ payer: PAYER, provider: PROVIDER, previousTotalMicros, receipts: pending });
      expect(next.voucher.cumulativeAmount > lastCumulative).to.equal(true);
      incrementsBase += next.incrementBase;
      lastCumulative = next.voucher.cumulativeAmount;
      previousTotalMicros = next.totalMicros;
      pending = [];
    }
    expect(incrementsBase).to.equal(lastCumulative);
    expect(lastCumulative).to.equal(previousTotalMicros / MICROS_PER_BASE);
  });

  it("accepts the pair's addresses in any casing and states them lower-cased", function () {
    const next = buildNextVoucher({
      payer: PAYER.toUpperCase().replace("0X", "0x"),
      provider: PROVIDER,
      previousTotalMicros: 0n,
      receipts: [receiptOf(1)],
    });
    expect(next.voucher.payer).to.equal(PAYER);
  });

  it("refuses a receipt of another pair", function () {
    const receipts = [receiptOf(1), receiptOf(2, { provider: OTHER })];
    expect(() => buildNextVoucher({ payer: PAYER, provider: PROVIDER, previousTotalMicros: 0n, receipts })).to.throw(
      RangeError,
      /req-2/,
    );
  });

  it("refuses a voucher that would add nothing (its receipts wait for the next one)", function () {
    const receipts = [receiptOf(1, { costMicros: 100n })];
    expect(() =>
      buildNextVoucher({ payer: PAYER, provider: PROVIDER, previousTotalMicros: 5_000_000n, receipts }),
    ).to.throw(RangeError, /add nothing/);
  });

  it("refuses an empty set of receipts", function () {
    expect(() =>
      buildNextVoucher({ payer: PAYER, provider: PROVIDER, previousTotalMicros: 0n, receipts: [] }),
    ).to.throw(RangeError);
  });
});
