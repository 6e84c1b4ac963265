import { expect } from "chai";
import { Signature, Wallet, concat, toBeHex } from "ethers";
import { escrowDomain, signVoucher } from "../../../server/chain/voucher";
import type { ReceiptBundle } from "../../../server/settlement/receiptBundle";
import { buildUsageTree } from "../../../server/settlement/usageTree";
import { verifyReceipt, verifyReceiptOffline } from "../../../server/settlement/verifyReceipt";
import { INVALID_REASONS, type InvalidReason, type VerifyReceiptResult } from "../../../server/settlement/verification";
import { ESCROW, SETTLEMENT_BLOCK, SETTLEMENT_TX, SIGNER, fakeChainFor, settledBundle } from "./helpers/bundles";
import { OTHER, receiptsOf, tamperedCopies } from "./helpers/receipts";

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

function expectInvalid(result: VerifyReceiptResult, reason: InvalidReason, detail?: RegExp): void {
  expect(
    result.isValid,
    JSON.stringify(result, (_k, v) => (typeof v === "bigint" ? v.toString() : v)),
  ).to.equal(false);
  if (result.isValid) return;
  expect(result.invalidReason).to.equal(reason);
  if (detail) expect(result.detail).to.match(detail);
}

describe("settlement/verifyReceipt", function () {
  let bundle: ReceiptBundle;
  beforeEach(async function () {
    bundle = await settledBundle();
  });

  it("proves a settled receipt, in plain words", async function () {
    const chain = fakeChainFor(bundle);
    const result = await verifyReceipt(bundle, chain);
    expect(result.isValid).to.equal(true);
    const text = result.facts.join("\n");
    expect(result.facts).to.have.length(7);
    expect(text).to.include(`Request ${bundle.receipt.requestId} (${bundle.receipt.model}`);
    expect(text).to.include("is one of 10 receipts in the voucher with usage root");
    expect(text).to.include(`is signed by ${SIGNER.address.toLowerCase()}`);
    expect(text).to.include("is an authorised settlement signer of the escrow");
    expect(text).to.include(`in tx ${SETTLEMENT_TX} at block ${SETTLEMENT_BLOCK}`);
    expect(text).to.include("which covers the voucher's");
    expect(chain.hints).to.deep.equal([{ txHash: SETTLEMENT_TX }]);
  });

  it("proves each of the voucher's receipts", async function () {
    for (let index = 0; index < 10; index++) {
      const each = await settledBundle(index);
      expect((await verifyReceipt(each, fakeChainFor(each))).isValid, `receipt ${index}`).to.equal(true);
    }
  });

  it("asks the chain with no hint when the bundle names no settlement", async function () {
    const { settlement: _settlement, ...unsettledBundle } = bundle;
    const chain = fakeChainFor(unsettledBundle);
    expect((await verifyReceipt(unsettledBundle, chain)).isValid).to.equal(true);
    expect(chain.hints).to.deep.equal([undefined]);
  });

  it("has a test below for every invalid reason", function () {
    // Keeps this file honest when a reason is added.
    const covered: InvalidReason[] = [
      "escrow_mismatch",
      "voucher_parties_mismatch",
      "receipt_not_in_voucher",
      "invalid_signature",
      "signer_mismatch",
      "signer_not_authorized",
      "voucher_not_settled",
      "settlement_tx_mismatch",
      "voucher_not_fully_paid",
    ];
    expect([...INVALID_REASONS].sort()).to.deep.equal([...covered].sort());
  });

  describe("escrow_mismatch", function () {
    it("when the chain reads another escrow than the bundle names", async function () {
      const chain = fakeChainFor(bundle, { escrow: { address: OTHER, chainId: ESCROW.chainId } });
      expectInvalid(await verifyReceipt(bundle, chain), "escrow_mismatch", /this check reads escrow 0x3333/);
    });

    it("when the chain is another chain", async function () {
      const chain = fakeChainFor(bundle, { escrow: { address: ESCROW.address, chainId: 8453n } });
      expectInvalid(await verifyReceipt(bundle, chain), "escrow_mismatch", /chain 8453/);
    });

    it("compares the escrow address whatever its casing", async function () {
      const chain = fakeChainFor(bundle, {
        escrow: { address: ESCROW.address.toUpperCase().replace("0X", "0x"), chainId: ESCROW.chainId },
      });
      expect((await verifyReceipt(bundle, chain)).isValid).to.equal(true);
    });
  });

  describe("voucher_parties_mismatch", function () {
    it("when the receipt's payer is not the voucher's", async function () {
      const forged = { ...bundle, receipt: { ...bundle.receipt, payer: OTHER } };
      expectInvalid(await verifyReceipt(forged, fakeChainFor(forged)), "voucher_parties_mismatch", /payer/);
    });

    it("when the receipt's provider is not the voucher's", async function () {
      const forged = { ...bundle, receipt: { ...bundle.receipt, provider: OTHER } };
      expectInvalid(await verifyReceipt(forged, fakeChainFor(forged)), "voucher_parties_mismatch", /provider/);
    });
  });

  describe("receipt_not_in_voucher", function () {
    it("when any field of the receipt was altered", async function () {
      for (const [field, receipt] of tamperedCopies(bundle.receipt)) {
        if (field === "payer" || field === "provider") continue; // caught as a parties mismatch first
        const forged = { ...bundle, receipt };
        expectInvalid(await verifyReceipt(forged, fakeChainFor(forged)), "receipt_not_in_voucher");
      }
    });

    it("when the proof comes from another voucher", async function () {
      const other = buildUsageTree(receiptsOf(10, { model: "another-model" }));
      const forged = { ...bundle, proof: other.proofOf(bundle.receipt.requestId) };
      expectInvalid(await verifyReceipt(forged, fakeChainFor(forged)), "receipt_not_in_voucher", /do not hash/);
    });

    it("when the stated receipt count cannot have produced the proof", async function () {
      const forged = { ...bundle, receiptCount: 1_000 };
      expectInvalid(await verifyReceipt(forged, fakeChainFor(forged)), "receipt_not_in_voucher", /receipt count/);
    });
  });

  describe("invalid_signature", function () {
    const rsv = () => Signature.from(bundle.signature);

    it("when v is 0 or 1 (ethers would recover it, the escrow would not)", async function () {
      const { r, s, v } = rsv();
      const forged = { ...bundle, signature: concat([r, s, toBeHex(v - 27, 1)]) };
      expectInvalid(await verifyReceipt(forged, fakeChainFor(forged)), "invalid_signature", /27 or 28/);
    });

    it("when s is in the upper half (the malleable twin of a valid signature)", async function () {
      const { r, s, v } = rsv();
      const twin = concat([r, toBeHex(SECP256K1_N - BigInt(s), 32), toBeHex(v === 27 ? 28 : 27, 1)]);
      const forged = { ...bundle, signature: twin };
      expectInvalid(await verifyReceipt(forged, fakeChainFor(forged)), "invalid_signature", /malleable/);
    });

    it("when r is zero (ecrecover would answer the zero address)", async function () {
      const { s, v } = rsv();
      const forged = { ...bundle, signature: concat([toBeHex(0, 32), s, toBeHex(v, 1)]) };
      expectInvalid(await verifyReceipt(forged, fakeChainFor(forged)), "invalid_signature", /out of range/);
    });

    it("when r is no point's x coordinate (in range, yet it recovers to nobody)", async function () {
      const { s, v } = rsv();
      const forged = { ...bundle, signature: concat([toBeHex(5, 32), s, toBeHex(v, 1)]) };
      expectInvalid(await verifyReceipt(forged, fakeChainFor(forged)), "invalid_signature", /recovers to no address/);
    });

    it("when it is not 65 bytes", async function () {
      const forged = { ...bundle, signature: bundle.signature.slice(0, 130) };
      expectInvalid(await verifyReceipt(forged, fakeChainFor(forged)), "invalid_signature", /65 bytes/);
    });
  });

  describe("signer_mismatch", function () {
    it("when the stated signer did not sign", async function () {
      const forged = { ...bundle, signer: OTHER };
      expectInvalid(await verifyReceipt(forged, fakeChainFor(forged)), "signer_mismatch", /not to the stated signer/);
    });

    it("when the voucher's amount was raised after signing", async function () {
      const forged = {
        ...bundle,
        voucher: { ...bundle.voucher, cumulativeAmount: bundle.voucher.cumulativeAmount + 1n },
      };
      expectInvalid(await verifyReceipt(forged, fakeChainFor(forged)), "signer_mismatch");
    });

    it("when the signature was made for another escrow's domain (no cross-escrow replay)", async function () {
      const elsewhere = escrowDomain(ESCROW.chainId, OTHER);
      const forged = { ...bundle, signature: await signVoucher(SIGNER, elsewhere, bundle.voucher) };
      expectInvalid(await verifyReceipt(forged, fakeChainFor(forged)), "signer_mismatch");
    });
  });

  describe("signer_not_authorized", function () {
    it("when the escrow does not (or no longer) authorise the signer", async function () {
      const impostor = Wallet.createRandom();
      const domain = escrowDomain(ESCROW.chainId, ESCROW.address);
      const forged = {
        ...bundle,
        signature: await signVoucher(impostor, domain, bundle.voucher),
        signer: impostor.address.toLowerCase(),
      };
      const result = await verifyReceipt(forged, fakeChainFor(forged));
      expectInvalid(result, "signer_not_authorized", /not an authorised settlement signer/);
      // What was proven before the failure is kept, for the CLI to show.
      expect(result.facts).to.have.length(4);
    });
  });

  describe("voucher_not_settled", function () {
    it("when no Settled event carries the voucher's usage root", async function () {
      const chain = fakeChainFor(bundle, { findSettledEvent: async () => null });
      expectInvalid(await verifyReceipt(bundle, chain), "voucher_not_settled", /no Settled event/);
    });
  });

  describe("settlement_tx_mismatch", function () {
    it("when the event is in another transaction than the bundle names", async function () {
      const elsewhere = `0x${"cd".repeat(32)}`;
      const chain = fakeChainFor(bundle, {
        findSettledEvent: async () => ({ txHash: elsewhere, blockNumber: 7, cumulativeAmount: 1n, paid: 1n }),
      });
      expectInvalid(await verifyReceipt(bundle, chain), "settlement_tx_mismatch", new RegExp(elsewhere));
    });
  });

  describe("voucher_not_fully_paid", function () {
    it("when the deposit ran short and the pair is settled below the voucher", async function () {
      const short = bundle.voucher.cumulativeAmount - 1n;
      const chain = fakeChainFor(bundle, {
        settledAmount: async () => short,
        findSettledEvent: async () => ({
          txHash: SETTLEMENT_TX,
          blockNumber: 42,
          cumulativeAmount: short,
          paid: short,
        }),
      });
      const result = await verifyReceipt(bundle, chain);
      expectInvalid(result, "voucher_not_fully_paid", /less than the voucher's/);
      expect(result.facts.join("\n")).to.include("a partial payment");
    });
  });

  it("reads nothing from the chain for a bundle that fails the local checks", async function () {
    const forged = { ...bundle, signer: OTHER };
    const refuse = async (): Promise<never> => {
      throw new Error("the chain must not be read");
    };
    const chain = fakeChainFor(forged, { isSigner: refuse, settledAmount: refuse, findSettledEvent: refuse });
    expectInvalid(await verifyReceipt(forged, chain), "signer_mismatch");
  });

  it("throws, rather than answering invalid, when the chain cannot be read", async function () {
    const chain = fakeChainFor(bundle, {
      isSigner: async () => {
        throw new Error("connection refused");
      },
    });
    let thrown: unknown;
    await verifyReceipt(bundle, chain).catch((error: unknown) => (thrown = error));
    expect((thrown as Error).message).to.equal("connection refused");
  });

  describe("verifyReceiptOffline", function () {
    it("proves membership and the signature without any chain", async function () {
      const result = await verifyReceiptOffline(bundle);
      expect(result.isValid).to.equal(true);
      expect(result.facts).to.have.length(3);
    });

    it("fails the same local checks", async function () {
      expectInvalid(await verifyReceiptOffline({ ...bundle, receiptCount: 3 }), "receipt_not_in_voucher");
    });
  });
});
