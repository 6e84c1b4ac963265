import { expect } from "chai";
import { AbiCoder, keccak256 } from "ethers";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import {
  RECEIPT_LEAF_ENCODING,
  parseReceipt,
  receiptLeaf,
  receiptLeafHash,
  receiptToJson,
  unixSeconds,
} from "../../../server/settlement/receipt";
import { receiptOf } from "./helpers/receipts";

describe("settlement/receipt", function () {
  describe("the leaf", function () {
    it("hashes a known receipt to the hash pinned here (the format is fixed forever)", function () {
      // If this fails, old receipts no longer verify against roots already on chain:
      // define a new receipt format instead of changing this one.
      expect(receiptLeafHash(receiptOf(0))).to.equal(
        "0x9170038146b97d7a3619af0842bfd944a4d73d9ff48d369d297e8102cb3c7bcb",
      );
      expect([...RECEIPT_LEAF_ENCODING]).to.deep.equal([
        "string",
        "address",
        "address",
        "string",
        "uint32",
        "uint32",
        "uint256",
        "uint64",
      ]);
    });

    it("is keccak256(keccak256(abi.encode(leaf))), the same as OpenZeppelin's tree computes", function () {
      const receipt = receiptOf(5);
      const byFormula = keccak256(
        keccak256(AbiCoder.defaultAbiCoder().encode([...RECEIPT_LEAF_ENCODING], receiptLeaf(receipt))),
      );
      const byLibrary = StandardMerkleTree.of([receiptLeaf(receipt)], [...RECEIPT_LEAF_ENCODING]).root;
      expect(receiptLeafHash(receipt)).to.equal(byFormula).and.to.equal(byLibrary);
    });

    it("does not depend on the casing of the addresses", function () {
      const receipt = receiptOf(1, { payer: "0xabcdefabcdefabcdefabcdefabcdefabcdefabcd" });
      const upper = { ...receipt, payer: "0xABCDEFABCDEFABCDEFABCDEFABCDEFABCDEFABCD" };
      expect(receiptLeafHash(upper)).to.equal(receiptLeafHash(receipt));
    });

    it("refuses token counts outside uint32 rather than wrapping them", function () {
      expect(() => receiptLeafHash(receiptOf(1, { promptTokens: 2 ** 32 }))).to.throw();
    });
  });

  describe("the JSON form", function () {
    it("round-trips, with costMicros as a decimal string", function () {
      const receipt = receiptOf(3, { costMicros: 123_456_789_012_345_678_901_234_567_890n });
      const json = receiptToJson(receipt);
      expect(json.costMicros).to.equal("123456789012345678901234567890");
      expect(parseReceipt(JSON.parse(JSON.stringify(json)))).to.deep.equal(receipt);
    });

    it("lower-cases checksummed addresses", function () {
      const json = { ...receiptToJson(receiptOf(1)), payer: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" };
      expect(parseReceipt(json).payer).to.equal("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266");
    });

    const valid = () => receiptToJson(receiptOf(1)) as Record<string, unknown>;
    const rejects: Array<[string, Record<string, unknown>]> = [
      ["a wrong EIP-55 checksum", { payer: "0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266" }],
      ["a short address", { provider: "0x1234" }],
      ["costMicros as a JSON number", { costMicros: 1000 }],
      ["a negative cost", { costMicros: "-1" }],
      ["a cost with leading zeros", { costMicros: "01" }],
      ["a cost in exponent form", { costMicros: "1e6" }],
      ["a cost above uint256", { costMicros: (1n << 256n).toString() }],
      ["fractional tokens", { promptTokens: 1.5 }],
      ["negative tokens", { completionTokens: -1 }],
      ["tokens above uint32", { completionTokens: 2 ** 32 }],
      ["an empty request id", { requestId: "" }],
      ["an empty model", { model: "" }],
      ["a fractional time", { createdAt: 1.5 }],
      ["a field the leaf does not cover", { cachedTokens: 3 }],
    ];
    for (const [what, change] of rejects) {
      it(`rejects ${what}`, function () {
        expect(() => parseReceipt({ ...valid(), ...change })).to.throw();
      });
    }

    it("rejects a missing field", function () {
      const { model: _model, ...withoutModel } = valid();
      expect(() => parseReceipt(withoutModel)).to.throw();
    });
  });

  it("takes receipt time as whole unix seconds, rounded down", function () {
    expect(unixSeconds(new Date(1_767_225_600_999))).to.equal(1_767_225_600);
  });
});
