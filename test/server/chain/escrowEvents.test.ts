import { expect } from "chai";
import { Wallet, ZeroHash, id } from "ethers";
import { UsageEscrow__factory } from "../../../typechain-types";
import {
  compareLogPositions,
  decodeEscrowLog,
  eventArgsToJson,
  eventFromJson,
  payerOf,
  type RawLog,
} from "../../../server/chain/escrowEvents";

const escrowInterface = UsageEscrow__factory.createInterface();
const payer = Wallet.createRandom().address;
const provider = Wallet.createRandom().address;

function logOf(name: string, values: unknown[], position: Partial<RawLog> = {}): RawLog {
  const encoded = escrowInterface.encodeEventLog(name, values);
  return {
    blockNumber: 7,
    blockHash: `0x${"AB".repeat(32)}`,
    transactionHash: `0x${"CD".repeat(32)}`,
    index: 3,
    ...encoded,
    ...position,
  };
}

describe("chain/escrowEvents", () => {
  it("decodes a Settled log into typed values and stores its arguments as strings", () => {
    const usageRoot = id("receipts");
    const huge = 2n ** 127n + 1n;
    const event = decodeEscrowLog(logOf("Settled", [payer, provider, huge, 1_000n, 900n, 100n, usageRoot]));
    expect(event).to.deep.equal({
      blockNumber: 7,
      blockHash: `0x${"ab".repeat(32)}`,
      txHash: `0x${"cd".repeat(32)}`,
      logIndex: 3,
      name: "Settled",
      args: {
        payer: payer.toLowerCase(),
        provider: provider.toLowerCase(),
        cumulativeAmount: huge,
        paid: 1_000n,
        providerShare: 900n,
        fee: 100n,
        usageRoot,
      },
    });
    const json = eventArgsToJson(event!);
    expect(json).to.deep.equal({
      payer: payer.toLowerCase(),
      provider: provider.toLowerCase(),
      cumulativeAmount: huge.toString(),
      paid: "1000",
      providerShare: "900",
      fee: "100",
      usageRoot,
    });
    // Through JSON (as jsonb stores it) and back: the same event.
    const { name, args, ...position } = event!;
    expect(eventFromJson(name, JSON.parse(JSON.stringify(json)), position)).to.deep.equal(event);
  });

  it("knows which payer each balance event concerns", () => {
    const cases: Array<[string, unknown[], string | null]> = [
      ["Deposited", [payer, provider, 5n], payer],
      ["WithdrawalRequested", [payer, 5n, 1_700_000_000n], payer],
      ["WithdrawalCancelled", [payer, 5n], payer],
      ["Withdrawn", [payer, provider, 5n], payer],
      ["Settled", [payer, provider, 5n, 5n, 5n, 0n, ZeroHash], payer],
      ["Claimed", [provider, provider, 5n], null],
      ["SignerAuthorized", [provider], null],
      ["SignerRevoked", [provider], null],
      ["TreasuryChanged", [payer, provider], null],
    ];
    for (const [name, values, expected] of cases) {
      const event = decodeEscrowLog(logOf(name, values));
      expect(event?.name, name).to.equal(name);
      expect(payerOf(event!), name).to.equal(expected?.toLowerCase() ?? null);
    }
  });

  it("ignores logs the escrow's ABI does not know", () => {
    const foreign: RawLog = {
      ...logOf("Deposited", [payer, payer, 1n]),
      topics: [id("Transfer(address,address,uint256)")],
    };
    expect(decodeEscrowLog(foreign)).to.equal(null);
  });

  it("refuses stored arguments that do not fit the event", () => {
    const position = { blockNumber: 1, blockHash: ZeroHash, txHash: ZeroHash, logIndex: 0 };
    expect(() => eventFromJson("Deposited", { payer, from: payer, amount: "-1" }, position)).to.throw();
    expect(() => eventFromJson("Deposited", { payer, from: payer, amount: 1 }, position)).to.throw();
    expect(() => eventFromJson("Minted", {}, position)).to.throw(/not an escrow event/);
  });

  it("orders events by block, then by log index", () => {
    const at = (blockNumber: number, logIndex: number) => ({ blockNumber, logIndex, blockHash: "", txHash: "" });
    const sorted = [at(2, 0), at(1, 5), at(1, 2)].sort(compareLogPositions);
    expect(sorted.map((p) => [p.blockNumber, p.logIndex])).to.deep.equal([
      [1, 2],
      [1, 5],
      [2, 0],
    ]);
  });
});
