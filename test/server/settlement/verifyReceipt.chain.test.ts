import { expect } from "chai";
import type { HDNodeWallet, JsonRpcProvider } from "ethers";
import { MockUSDC__factory, UsageEscrow__factory, type MockUSDC, type UsageEscrow } from "../../../typechain-types";
import { connectEscrowReader } from "../../../server/chain/escrowReader";
import { escrowDomain, hashVoucher, signVoucher, type Voucher } from "../../../server/chain/voucher";
import { buildNextVoucher, type NextVoucher } from "../../../server/settlement/nextVoucher";
import type { Receipt } from "../../../server/settlement/receipt";
import {
  RECEIPT_BUNDLE_FORMAT,
  parseReceiptBundle,
  receiptBundleToJson,
  type ReceiptBundle,
} from "../../../server/settlement/receiptBundle";
import { verifyReceipt } from "../../../server/settlement/verifyReceipt";
import { startHardhatNode, type HardhatNode } from "../../support/hardhatNode";

const USDC = 1_000_000n;
const FEE_BPS = 1000;
const THAWING_PERIOD_SECONDS = 7n * 24n * 60n * 60n;

/** Receipts of `payer` at `provider` whose costs are `costsMicros`, with ids unique to `tag`. */
function receiptsFor(payer: string, provider: string, tag: string, costsMicros: bigint[]): Receipt[] {
  return costsMicros.map((costMicros, n) => ({
    requestId: `${tag}-${n}`,
    payer: payer.toLowerCase(),
    provider: provider.toLowerCase(),
    model: "llama-3.1-8b-instruct",
    promptTokens: 1_000 + n,
    completionTokens: 200 + n,
    costMicros,
    createdAt: 1_767_225_600 + n,
  }));
}

describe("settlement/verifyReceipt against the deployed escrow (hardhat node)", function () {
  this.timeout(120_000);

  let node: HardhatNode;
  let provider: JsonRpcProvider;
  let owner: HDNodeWallet;
  let signer: HDNodeWallet;
  let payer: HDNodeWallet;
  let payee: HDNodeWallet;
  let shortPayer: HDNodeWallet;
  let usdc: MockUSDC;
  let escrow: UsageEscrow;
  let escrowAddress: string;
  let deployBlock: number;
  let chainId: bigint;

  before(async function () {
    node = await startHardhatNode();
    provider = node.provider();
    [owner, , signer, payer, payee, shortPayer] = [0, 1, 2, 3, 4, 5].map((i) => node.account(i, provider));
    const treasury = node.account(1);
    deployBlock = await provider.getBlockNumber();
    usdc = await (await new MockUSDC__factory(owner).deploy()).waitForDeployment();
    escrow = await (
      await new UsageEscrow__factory(owner).deploy(
        await usdc.getAddress(),
        owner.address,
        treasury.address,
        FEE_BPS,
        THAWING_PERIOD_SECONDS,
      )
    ).waitForDeployment();
    escrowAddress = await escrow.getAddress();
    chainId = (await provider.getNetwork()).chainId;
    await (await escrow.authorizeSigner(signer.address)).wait();
    await deposit(payer, 100n * USDC);
    await deposit(shortPayer, 1n * USDC);
  });

  after(async function () {
    provider?.destroy();
    await node?.stop();
  });

  async function deposit(from: HDNodeWallet, amount: bigint): Promise<void> {
    await (await usdc.mint(from.address, amount)).wait();
    await (await usdc.connect(from).approve(escrowAddress, amount)).wait();
    await (await escrow.connect(from).deposit(amount)).wait();
  }

  async function signed(voucher: Voucher): Promise<string> {
    return signVoucher(signer, escrowDomain(chainId, escrowAddress), voucher);
  }

  /** Settles `next`'s voucher from a third party's account (anyone may) and returns where it landed. */
  async function settle(next: NextVoucher): Promise<{ txHash: string; blockNumber: number }> {
    const receipt = await (await escrow.connect(owner).settle([next.voucher], [await signed(next.voucher)])).wait();
    if (!receipt) throw new Error("settle was not mined");
    return { txHash: receipt.hash, blockNumber: receipt.blockNumber };
  }

  /** The bundle the receipt API would serve, passed through JSON as a file would be. */
  async function bundleOf(
    next: NextVoucher,
    receipt: Receipt,
    settlement?: { txHash: string; blockNumber: number },
  ): Promise<ReceiptBundle> {
    const bundle: ReceiptBundle = {
      format: RECEIPT_BUNDLE_FORMAT,
      receipt,
      proof: next.tree.proofOf(receipt.requestId),
      receiptCount: next.tree.size,
      voucher: next.voucher,
      signature: await signed(next.voucher),
      signer: signer.address.toLowerCase(),
      escrow: { address: escrowAddress.toLowerCase(), chainId },
      ...(settlement ? { settlement } : {}),
    };
    return parseReceiptBundle(JSON.parse(JSON.stringify(receiptBundleToJson(bundle))));
  }

  let first: NextVoucher;
  let firstReceipts: Receipt[];
  let firstSettlement: { txHash: string; blockNumber: number };

  it("hashes a voucher exactly as the escrow does", async function () {
    const voucher = {
      payer: payer.address,
      provider: payee.address,
      cumulativeAmount: 123n,
      usageRoot: `0x${"11".repeat(32)}`,
    };
    expect(await escrow.hashVoucher(voucher)).to.equal(hashVoucher(escrowDomain(chainId, escrowAddress), voucher));
  });

  it("proves a receipt of a settled voucher, using the bundle's transaction", async function () {
    firstReceipts = receiptsFor(payer.address, payee.address, "first", [
      400_000n,
      1_250_000n,
      999_999n,
      2_000_001n,
      7n,
    ]);
    first = buildNextVoucher({
      payer: payer.address,
      provider: payee.address,
      previousTotalMicros: 0n,
      receipts: firstReceipts,
    });
    expect(first.voucher.cumulativeAmount).to.equal(4n); // 4,650,007 micros, 650,007 carried
    firstSettlement = await settle(first);

    const reader = await connectEscrowReader(provider, escrowAddress, { fromBlock: deployBlock });
    const result = await verifyReceipt(await bundleOf(first, firstReceipts[2], firstSettlement), reader);
    expect(result, JSON.stringify(result)).to.deep.include({ isValid: true });
    expect(result.facts.join("\n")).to.include(
      `in tx ${firstSettlement.txHash} at block ${firstSettlement.blockNumber}`,
    );
    for (const fact of result.facts) console.log(`        ${fact}`);
  });

  it("says a voucher is not settled until it is, then finds it by scanning the logs", async function () {
    const receipts = receiptsFor(payer.address, payee.address, "second", [3_350_000n, 10n]);
    const second = buildNextVoucher({
      payer: payer.address,
      provider: payee.address,
      previousTotalMicros: first.totalMicros,
      receipts,
    });
    expect(second.voucher.cumulativeAmount).to.equal(8n); // 4,650,007 + 3,350,010 = 8,000,017 micros
    // A narrow scan window exercises the windowed log scan of a hosted RPC.
    const reader = await connectEscrowReader(provider, escrowAddress, { fromBlock: deployBlock, maxBlockRange: 2 });

    const before = await verifyReceipt(await bundleOf(second, receipts[0]), reader);
    expect(before).to.deep.include({ isValid: false, invalidReason: "voucher_not_settled" });

    const settlement = await settle(second);
    for (let i = 0; i < 5; i++) await provider.send("evm_mine", []); // the event is no longer at the head
    const after = await verifyReceipt(await bundleOf(second, receipts[0]), reader);
    expect(after, JSON.stringify(after)).to.deep.include({ isValid: true });
    expect(after.facts.join("\n")).to.include(`in tx ${settlement.txHash}`);

    // The first voucher's receipts stay provable: the pair's settled amount only grows.
    expect((await verifyReceipt(await bundleOf(first, firstReceipts[0], firstSettlement), reader)).isValid).to.equal(
      true,
    );
  });

  it("says a voucher the deposit could not cover is not fully paid", async function () {
    const receipts = receiptsFor(shortPayer.address, payee.address, "short", [2_500_000_000_000n]); // 2.5 USDC; 1 deposited
    const next = buildNextVoucher({
      payer: shortPayer.address,
      provider: payee.address,
      previousTotalMicros: 0n,
      receipts,
    });
    const settlement = await settle(next);
    const reader = await connectEscrowReader(provider, escrowAddress, { fromBlock: deployBlock });
    const result = await verifyReceipt(await bundleOf(next, receipts[0], settlement), reader);
    expect(result).to.deep.include({ isValid: false, invalidReason: "voucher_not_fully_paid" });
    expect(result.facts.join("\n")).to.include("a partial payment");
  });

  it("refuses a bundle whose transaction does not carry the voucher", async function () {
    const reader = await connectEscrowReader(provider, escrowAddress, { fromBlock: deployBlock });
    const deployTx = escrow.deploymentTransaction()?.hash;
    if (!deployTx) throw new Error("no deployment transaction");
    const bundle = await bundleOf(first, firstReceipts[1], { txHash: deployTx, blockNumber: 1 });
    expect(await verifyReceipt(bundle, reader)).to.deep.include({
      isValid: false,
      invalidReason: "settlement_tx_mismatch",
    });
  });

  it("refuses to read an address with no contract", async function () {
    let thrown: unknown;
    await connectEscrowReader(provider, payer.address).catch((error: unknown) => (thrown = error));
    expect((thrown as Error).message).to.match(/no contract at/);
  });

  it("says the signer is not authorised once the escrow's owner revoked it", async function () {
    await (await escrow.connect(owner).revokeSigner(signer.address)).wait();
    const reader = await connectEscrowReader(provider, escrowAddress, { fromBlock: deployBlock });
    const result = await verifyReceipt(await bundleOf(first, firstReceipts[2], firstSettlement), reader);
    expect(result).to.deep.include({ isValid: false, invalidReason: "signer_not_authorized" });
  });
});
