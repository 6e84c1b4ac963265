import { expect } from "chai";
import { buildUsageTree, isPlausibleProofDepth, verifyUsageProof } from "../../../server/settlement/usageTree";
import { receiptOf, receiptsOf, tamperedCopies } from "./helpers/receipts";
import { prngOf, seedFromEnv } from "./helpers/prng";

describe("settlement/usageTree", function () {
  for (const size of [1, 2, 1000]) {
    it(`proves every one of ${size} receipt(s) and nothing else`, function () {
      const receipts = receiptsOf(size);
      const tree = buildUsageTree(receipts);
      expect(tree.size).to.equal(size);
      for (const receipt of receipts) {
        const proof = tree.proofOf(receipt.requestId);
        expect(verifyUsageProof(tree.root, receipt, proof), receipt.requestId).to.equal(true);
        expect(isPlausibleProofDepth(size, proof.length)).to.equal(true);
      }
      expect(verifyUsageProof(tree.root, receiptOf(size), tree.proofOf(receipts[0].requestId))).to.equal(false);
    });
  }

  it("has the single receipt's leaf hash as the root of a one-receipt tree, with an empty proof", function () {
    const tree = buildUsageTree([receiptOf(0)]);
    expect(tree.root).to.equal("0x9170038146b97d7a3619af0842bfd944a4d73d9ff48d369d297e8102cb3c7bcb");
    expect(tree.proofOf("req-0")).to.deep.equal([]);
  });

  it("builds the root pinned here for three known receipts", function () {
    expect(buildUsageTree(receiptsOf(3)).root).to.equal(
      "0xf98df21479bb259bef6736b5e94e6b1a22da925a5e2a1bf5aa6507adefad203b",
    );
  });

  it("gives the same root whatever order the receipts come in", function () {
    const seed = seedFromEnv();
    const random = prngOf(seed);
    const receipts = receiptsOf(50);
    const shuffled = [...receipts];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = random.below(i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    expect(buildUsageTree(shuffled).root, `SETTLEMENT_SEED=${seed}`).to.equal(buildUsageTree(receipts).root);
  });

  it("fails the proof of a receipt with any field tampered", function () {
    const receipts = receiptsOf(7);
    const tree = buildUsageTree(receipts);
    const receipt = receipts[3];
    const proof = tree.proofOf(receipt.requestId);
    for (const [field, tampered] of tamperedCopies(receipt)) {
      expect(verifyUsageProof(tree.root, tampered, proof), field).to.equal(false);
    }
  });

  it("fails a proof taken from another voucher's tree", function () {
    const first = buildUsageTree(receiptsOf(8));
    const second = buildUsageTree(receiptsOf(8, { model: "qwen-2.5-7b" }));
    const receipt = receiptOf(2);
    expect(verifyUsageProof(second.root, receipt, first.proofOf(receipt.requestId))).to.equal(false);
    // Even for a receipt that is in both trees, each proof works only with its own root.
    const shared = receiptOf(100);
    const a = buildUsageTree([...receiptsOf(4), shared]);
    const b = buildUsageTree([...receiptsOf(9), shared]);
    expect(verifyUsageProof(a.root, shared, b.proofOf(shared.requestId))).to.equal(false);
  });

  it("fails a proof with a step changed, dropped or added", function () {
    const tree = buildUsageTree(receiptsOf(16));
    const receipt = receiptOf(5);
    const proof = tree.proofOf(receipt.requestId);
    const flipped = [...proof];
    flipped[1] = `${flipped[1].slice(0, -1)}${flipped[1].endsWith("0") ? "1" : "0"}`;
    expect(verifyUsageProof(tree.root, receipt, flipped)).to.equal(false);
    expect(verifyUsageProof(tree.root, receipt, proof.slice(1))).to.equal(false);
    expect(verifyUsageProof(tree.root, receipt, [...proof, proof[0]])).to.equal(false);
  });

  it("accepts the root in any casing", function () {
    const tree = buildUsageTree(receiptsOf(3));
    const receipt = receiptOf(1);
    expect(verifyUsageProof(tree.root.toUpperCase().replace("0X", "0x"), receipt, tree.proofOf("req-1"))).to.equal(
      true,
    );
  });

  it("is never built over no receipts", function () {
    expect(() => buildUsageTree([])).to.throw(RangeError, /never built/);
  });

  it("refuses a request id that appears twice", function () {
    expect(() => buildUsageTree([receiptOf(1), receiptOf(1, { costMicros: 5n })])).to.throw(RangeError, /twice/);
  });

  it("refuses to prove a request that is not in the tree", function () {
    expect(() => buildUsageTree(receiptsOf(3)).proofOf("req-9")).to.throw(RangeError);
  });

  describe("isPlausibleProofDepth", function () {
    // Every size up to 40, and around the powers of two where the depths change.
    const sizes = [...Array.from({ length: 40 }, (_, i) => i + 1), 63, 64, 65, 127, 128, 129];
    it("accepts exactly the depths the tree produces, size by size", function () {
      for (const size of sizes) {
        const tree = buildUsageTree(receiptsOf(size));
        const depths = new Set(receiptsOf(size).map((r) => tree.proofOf(r.requestId).length));
        for (let depth = 0; depth <= 10; depth++) {
          expect(isPlausibleProofDepth(size, depth), `size ${size}, depth ${depth}`).to.equal(depths.has(depth));
        }
      }
    });

    it("rejects a size that is not a positive integer", function () {
      expect(isPlausibleProofDepth(0, 0)).to.equal(false);
      expect(isPlausibleProofDepth(1.5, 0)).to.equal(false);
    });
  });
});
