import { ethers, network } from "hardhat";
import { escrowDomain, signVoucher, type Voucher } from "../../../server/chain/voucher";
import type { Signer } from "ethers";

export const FEE_BPS = 1000n;
export const THAWING_PERIOD = 7n * 24n * 60n * 60n;
export const USDC = 1_000_000n;

/**
 * The escrow as deployed for tests: MockUSDC, an owner, a treasury, one authorised signer,
 * three payers funded with 1,000 USDC each (not yet deposited, allowance given) and three providers.
 */
export async function deployEscrowFixture() {
  const [owner, treasury, signer, payerA, payerB, payerC, providerA, providerB, providerC, stranger] =
    await ethers.getSigners();
  const usdc = await ethers.deployContract("MockUSDC");
  const escrow = await ethers.deployContract("UsageEscrow", [
    await usdc.getAddress(),
    owner.address,
    treasury.address,
    FEE_BPS,
    THAWING_PERIOD,
  ]);
  await escrow.connect(owner).authorizeSigner(signer.address);
  const escrowAddress = await escrow.getAddress();
  const payers = [payerA, payerB, payerC];
  for (const payer of payers) {
    await usdc.mint(payer.address, 1_000n * USDC);
    await usdc.connect(payer).approve(escrowAddress, ethers.MaxUint256);
  }
  const chainId = BigInt(network.config.chainId ?? 31337);
  const domain = escrowDomain(chainId, escrowAddress);
  const sign = (voucher: Voucher, by: Signer = signer) => signVoucher(by, domain, voucher);
  return {
    usdc,
    escrow,
    escrowAddress,
    domain,
    sign,
    owner,
    treasury,
    signer,
    payers,
    providers: [providerA, providerB, providerC],
    stranger,
  };
}

export function splitOf(paid: bigint): { providerShare: bigint; fee: bigint } {
  const fee = (paid * FEE_BPS) / 10_000n;
  return { providerShare: paid - fee, fee };
}
