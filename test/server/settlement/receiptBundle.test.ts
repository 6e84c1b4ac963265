import { expect } from "chai";
import { parseReceiptBundle, receiptBundleToJson } from "../../../server/settlement/receiptBundle";
import { settledBundle } from "./helpers/bundles";

describe("settlement/receiptBundle", function () {
  it("round-trips through JSON text", async function () {
    const bundle = await settledBundle();
    const text = JSON.stringify(receiptBundleToJson(bundle));
    expect(parseReceiptBundle(JSON.parse(text))).to.deep.equal(bundle);
  });

  it("writes amounts as decimal strings and the chain id as a number", async function () {
    const json = receiptBundleToJson(await settledBundle());
    expect(json.voucher.cumulativeAmount).to.be.a("string");
    expect(json.receipt.costMicros).to.be.a("string");
    expect(json.escrow.chainId).to.equal(31337);
  });

  it("round-trips a bundle not yet settled", async function () {
    const { settlement: _settlement, ...unsettled } = await settledBundle();
    const json = JSON.parse(JSON.stringify(receiptBundleToJson(unsettled)));
    expect(json).not.to.have.property("settlement");
    expect(parseReceiptBundle(json)).to.deep.equal(unsettled);
  });

  it("drops unknown top-level fields (a newer server's) but not unknown receipt fields", async function () {
    const json = JSON.parse(JSON.stringify(receiptBundleToJson(await settledBundle())));
    expect(parseReceiptBundle({ ...json, note: "hello" })).not.to.have.property("note");
    expect(() => parseReceiptBundle({ ...json, receipt: { ...json.receipt, discount: "5" } })).to.throw();
  });

  const rejects: Array<[string, (json: Record<string, any>) => unknown]> = [
    ["another format", (json) => ({ ...json, format: "shareai-receipt-bundle/2" })],
    ["no format", ({ format: _format, ...json }) => json],
    [
      "a voucher amount above uint128",
      (json) => ({ ...json, voucher: { ...json.voucher, cumulativeAmount: (1n << 128n).toString() } }),
    ],
    ["a short usage root", (json) => ({ ...json, voucher: { ...json.voucher, usageRoot: "0x1234" } })],
    ["a proof step that is not 32 bytes", (json) => ({ ...json, proof: ["0x12"] })],
    ["a receipt count of zero", (json) => ({ ...json, receiptCount: 0 })],
    ["a signature that is not hex", (json) => ({ ...json, signature: "0xzz" })],
    ["a chain id as a string", (json) => ({ ...json, escrow: { ...json.escrow, chainId: "31337" } })],
    ["a block number as a string", (json) => ({ ...json, settlement: { ...json.settlement, blockNumber: "42" } })],
  ];
  for (const [what, change] of rejects) {
    it(`rejects ${what}`, async function () {
      const json = JSON.parse(JSON.stringify(receiptBundleToJson(await settledBundle())));
      expect(() => parseReceiptBundle(change(json))).to.throw();
    });
  }
});
