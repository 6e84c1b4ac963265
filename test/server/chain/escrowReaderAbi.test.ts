import { expect } from "chai";
import { Interface } from "ethers";
import { UsageEscrow__factory } from "../../../typechain-types";
import { ESCROW_READER_ABI } from "../../../server/chain/escrowReader";

// The receipt verifier reads the escrow through a hand-written ABI (no TypeChain factory, so no
// bytecode in the web app's bundle). Each fragment must be exactly the compiled contract's:
// same selector or topic, same parameter names, types and `indexed` flags.
describe("chain/escrowReader ABI", () => {
  const compiled: Interface = UsageEscrow__factory.createInterface();
  const reader = Interface.from(ESCROW_READER_ABI);

  it("has each function exactly as the compiled UsageEscrow declares it", () => {
    const names: string[] = [];
    reader.forEachFunction((fragment) => {
      names.push(fragment.name);
      const actual = compiled.getFunction(fragment.name);
      expect(actual, fragment.name).to.not.equal(null);
      expect(fragment.format("full")).to.equal(actual!.format("full"));
      expect(fragment.selector).to.equal(actual!.selector);
    });
    expect(names.sort()).to.deep.equal(["isSigner", "settledAmount"]);
  });

  it("has the Settled event exactly as the compiled UsageEscrow declares it", () => {
    const names: string[] = [];
    reader.forEachEvent((fragment) => {
      names.push(fragment.name);
      const actual = compiled.getEvent(fragment.name);
      expect(actual, fragment.name).to.not.equal(null);
      expect(fragment.format("full")).to.equal(actual!.format("full"));
      expect(fragment.topicHash).to.equal(actual!.topicHash);
    });
    expect(names).to.deep.equal(["Settled"]);
  });
});
