/**
 * Gas benchmark of the UsageEscrow on the in-process Hardhat network (see docs/gas.md).
 *
 *   npm run bench:gas                 # measure, compare with gas-snapshot.json, rewrite it
 *   GAS_CHECK=1 npm run bench:gas     # measure and compare only; exit 1 if any figure moved
 *
 * Every figure is a receipt's gasUsed (intrinsic 21,000 and calldata included, refunds deducted).
 * Addresses, amounts, signatures and deadlines are fixed, so the figures repeat exactly run to run.
 */
import { join } from "node:path";
import { ethers, network } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatNetworkConfig } from "hardhat/types";
import type { ContractTransactionResponse, TypedDataDomain } from "ethers";
import { PERMIT_TYPES } from "../server/chain/permitTypes";
import { escrowDomain, signVoucher, type Voucher } from "../server/chain/voucher";
import {
  compareWithSnapshot,
  formatDelta,
  formatGas,
  isUnchanged,
  readSnapshot,
  writeSnapshot,
  type GasFigures,
} from "./lib/gasSnapshot";

const SNAPSHOT_FILE = "gas-snapshot.json";
const SNAPSHOT_PATH = join(__dirname, "..", SNAPSHOT_FILE);
const TARGET_PER_VOUCHER = 25_000;
const USDC = 1_000_000n;
const FEE_BPS = 1000;
const THAWING_PERIOD = 7n * 24n * 60n * 60n;
/** 2106-02-07: a fixed far-future deadline keeps the calldata, and so the gas, identical run to run. */
const FAR_FUTURE = 2n ** 32n - 1n;
/** What one voucher adds to its pair each round: 1.234567 USDC. */
const ROUND_AMOUNT = 1_234_567n;

interface Measurement {
  key: string;
  label: string;
  gas: number;
  /** Set on the per-voucher figures that have a target. */
  target?: number;
}

/** A fixed, realistic-looking address (no leading zero bytes, unlike small integers). */
const addressOf = (name: string) => ethers.getAddress(ethers.dataSlice(ethers.id(`shareai.bench.${name}`), 12));

async function gasUsed(sent: Promise<ContractTransactionResponse>): Promise<number> {
  const receipt = await (await sent).wait();
  if (!receipt || receipt.status !== 1) throw new Error("benchmark transaction failed");
  return Number(receipt.gasUsed);
}

async function measure(): Promise<Measurement[]> {
  const [deployer, depositor, permitter, authorizer, relayer, withdrawer, claimer] = await ethers.getSigners();
  const settlementSigner = new ethers.Wallet(ethers.id("shareai.bench.settlement-signer"));
  const treasury = addressOf("treasury");

  // From the compiled artifacts (not the typechain factories' embedded bytecode), so the figures
  // always belong to the contracts `hardhat run` has just compiled.
  const usdc = await ethers.deployContract("MockUSDC");
  const escrow = await ethers.deployContract("UsageEscrow", [
    await usdc.getAddress(),
    deployer.address,
    treasury,
    FEE_BPS,
    THAWING_PERIOD,
  ]);
  const escrowAddress = await escrow.getAddress();
  await escrow.authorizeSigner(settlementSigner.address);
  const domain: TypedDataDomain = escrowDomain(BigInt(network.config.chainId ?? 31337), escrowAddress);

  await usdc.mint(deployer.address, 1_000_000n * USDC);
  await usdc.approve(escrowAddress, ethers.MaxUint256);
  const fund = async (payers: string[]) => {
    for (const payer of payers) await escrow.depositFor(payer, 100n * USDC);
  };

  const settle = async (pairs: Array<[payer: string, provider: string]>, round: bigint) => {
    const vouchers: Voucher[] = pairs.map(([payer, provider]) => ({
      payer,
      provider,
      cumulativeAmount: ROUND_AMOUNT * round,
      usageRoot: ethers.id(`usage.${payer}.${provider}.${round}`),
    }));
    const signatures = await Promise.all(vouchers.map((voucher) => signVoucher(settlementSigner, domain, voucher)));
    return gasUsed(escrow.settle(vouchers, signatures));
  };

  const providers = Array.from({ length: 10 }, (_, j) => addressOf(`provider.${j}`));
  const payers = (group: string, count: number) => Array.from({ length: count }, (_, i) => addressOf(`payer.${group}.${i}`));
  const single = payers("single", 1);
  const ten = payers("ten", 10);
  const hundred = payers("hundred", 100);
  const grid = payers("grid", 10);
  const warmUp = payers("warm-up", 1);
  await fund([...warmUp, ...single, ...ten, ...hundred, ...grid]);

  // Steady state for everyone else: the treasury and every provider already hold earnings, so a
  // "new pair" is a new payer-provider pair, not the first payment a provider ever receives.
  await settle([...providers, claimer.address].map((provider) => [warmUp[0], provider]), 1n);

  const measurements: Measurement[] = [];
  const record = (key: string, label: string, gas: number, target?: number) =>
    measurements.push({ key, label, gas, target });
  const recordBatch = async (
    key: string,
    label: string,
    pairs: Array<[string, string]>,
    round: bigint,
    target?: number,
  ) => {
    const total = await settle(pairs, round);
    record(`settle.${key}.total`, `settle ${label}`, total);
    record(`settle.${key}.perVoucher`, "  per voucher", Math.floor(total / pairs.length), target);
  };
  const toOne = (payerList: string[]) => payerList.map((payer): [string, string] => [payer, providers[0]]);
  const gridPairs = grid.flatMap((payer) => providers.map((provider): [string, string] => [payer, provider]));

  await recordBatch("new.1x1", "1 new pair", toOne(single), 1n);
  await recordBatch("new.10x1", "10 new pairs (10 payers x 1 provider)", toOne(ten), 1n);
  await recordBatch("new.100x1", "100 new pairs (100 payers x 1 provider)", toOne(hundred), 1n);
  await recordBatch("new.10x10", "100 new pairs (10 payers x 10 providers)", gridPairs, 1n);
  await recordBatch("existing.100x1", "100 existing pairs (100 payers x 1 provider)", toOne(hundred), 2n, TARGET_PER_VOUCHER);
  await recordBatch("existing.10x10", "100 existing pairs (10 payers x 10 providers)", gridPairs, 2n, TARGET_PER_VOUCHER);

  // Deposits. Allowances are finite, as a wallet sets them, so transferFrom spends them.
  await usdc.mint(depositor.address, 1_000n * USDC);
  await usdc.connect(depositor).approve(escrowAddress, 1_000n * USDC);
  record("deposit.first", "deposit, payer's first", await gasUsed(escrow.connect(depositor).deposit(100n * USDC)));
  record("deposit.repeat", "deposit, payer's second", await gasUsed(escrow.connect(depositor).deposit(100n * USDC)));

  await usdc.mint(permitter.address, 1_000n * USDC);
  const usdcDomain: TypedDataDomain = {
    name: "USD Coin",
    version: "2",
    chainId: network.config.chainId ?? 31337,
    verifyingContract: await usdc.getAddress(),
  };
  const permit = ethers.Signature.from(
    await permitter.signTypedData(
      usdcDomain,
      PERMIT_TYPES,
      { owner: permitter.address, spender: escrowAddress, value: 100n * USDC, nonce: 0n, deadline: FAR_FUTURE },
    ),
  );
  record(
    "depositWithPermit.first",
    "depositWithPermit (EIP-2612), first",
    await gasUsed(escrow.connect(permitter).depositWithPermit(100n * USDC, FAR_FUTURE, permit.v, permit.r, permit.s)),
  );

  await usdc.mint(authorizer.address, 1_000n * USDC);
  const authorization = {
    from: authorizer.address,
    to: escrowAddress,
    value: 100n * USDC,
    validAfter: 0n,
    validBefore: FAR_FUTURE,
    nonce: ethers.id("shareai.bench.authorization"),
  };
  const receive = ethers.Signature.from(
    await authorizer.signTypedData(
      usdcDomain,
      {
        ReceiveWithAuthorization: [
          { name: "from", type: "address" },
          { name: "to", type: "address" },
          { name: "value", type: "uint256" },
          { name: "validAfter", type: "uint256" },
          { name: "validBefore", type: "uint256" },
          { name: "nonce", type: "bytes32" },
        ],
      },
      authorization,
    ),
  );
  record(
    "depositWithAuthorization.first",
    "depositWithAuthorization (EIP-3009), first, via relayer",
    await gasUsed(
      escrow
        .connect(relayer)
        .depositWithAuthorization(
          authorization.from,
          authorization.value,
          authorization.validAfter,
          authorization.validBefore,
          authorization.nonce,
          receive.v,
          receive.r,
          receive.s,
        ),
    ),
  );

  // Withdrawal: request, cancel, request again, wait out the thawing period, withdraw.
  await usdc.mint(withdrawer.address, 1_000n * USDC);
  await usdc.connect(withdrawer).approve(escrowAddress, 1_000n * USDC);
  await escrow.connect(withdrawer).deposit(100n * USDC);
  record(
    "requestWithdrawal.first",
    "requestWithdrawal, nothing thawing yet",
    await gasUsed(escrow.connect(withdrawer).requestWithdrawal(40n * USDC)),
  );
  record("cancelWithdrawal", "cancelWithdrawal", await gasUsed(escrow.connect(withdrawer).cancelWithdrawal()));
  await escrow.connect(withdrawer).requestWithdrawal(40n * USDC);
  await time.increase(THAWING_PERIOD);
  record(
    "withdraw",
    "withdraw, after the thawing period",
    await gasUsed(escrow.connect(withdrawer).withdraw(withdrawer.address)),
  );

  record(
    "claim",
    "claim, a provider's first, to itself",
    await gasUsed(escrow.connect(claimer).claim(claimer.address)),
  );
  return measurements;
}

function report(measurements: Measurement[], snapshot: GasFigures | undefined, check: boolean): boolean {
  const current = Object.fromEntries(measurements.map((m) => [m.key, m.gas]));
  const { rows, removed } = compareWithSnapshot(current, snapshot);
  const byKey = new Map(measurements.map((m) => [m.key, m]));
  const table = rows.map((row) => {
    const { label, target } = byKey.get(row.key)!;
    const note = target === undefined ? "" : `<= ${formatGas(target)}: ${row.gas <= target ? "met" : "MISSED"}`;
    const previous = row.previous === undefined ? "-" : formatGas(row.previous);
    return [row.key, label, formatGas(row.gas), previous, formatDelta(row), note];
  });
  const header = ["key", "measurement", "gas", "snapshot", "delta", "target"];
  const widths = header.map((title, column) => Math.max(title.length, ...table.map((cells) => cells[column].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column >= 2 && column <= 4 ? cell.padStart(widths[column]) : cell.padEnd(widths[column])))
      .join("  ")
      .trimEnd();

  console.log(`\nUsageEscrow gas (receipt.gasUsed), in-process Hardhat network, hardfork ${(network.config as HardhatNetworkConfig).hardfork}\n`);
  console.log(line(header));
  console.log(line(widths.map((width) => "-".repeat(width))));
  for (const cells of table) console.log(line(cells));
  for (const key of removed) console.log(`${key}: in the snapshot (${formatGas(snapshot![key])}) but no longer measured`);

  const changed = rows.filter((row) => !isUnchanged(row)).length + removed.length;
  console.log(
    `\n${snapshot ? `${changed} of ${rows.length} figures differ from ${SNAPSHOT_FILE}` : `no ${SNAPSHOT_FILE} yet`}`,
  );
  if (check) {
    if (changed > 0 || !snapshot) console.log("GAS CHECK FAILED: update the snapshot with `npm run bench:gas` and commit it");
    else console.log("Gas check passed: every figure matches the snapshot");
    return changed === 0 && snapshot !== undefined;
  }
  writeSnapshot(SNAPSHOT_PATH, current);
  console.log(`Wrote ${SNAPSHOT_FILE}`);
  return true;
}

async function main(): Promise<void> {
  if (network.name !== "hardhat") throw new Error(`bench:gas runs on the in-process hardhat network, not "${network.name}"`);
  // `hardhat run` passes no script arguments, hence the variable; --check works under ts-node.
  const check = process.env.GAS_CHECK === "1" || process.argv.includes("--check");
  const snapshot = readSnapshot(SNAPSHOT_PATH);
  const measurements = await measure();
  if (!report(measurements, snapshot, check)) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
