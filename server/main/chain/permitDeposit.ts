import { Signature, type Signer, type TransactionReceipt } from "ethers";
import { MockUSDC__factory, UsageEscrow__factory } from "../../../typechain-types";
import { PERMIT_TYPES } from "../../chain/permitTypes";

/** USDC's EIP-2612 domain (MockUSDC copies it): name "USD Coin", version "2". */
export const USDC_PERMIT_DOMAIN = { name: "USD Coin", version: "2" } as const;


/**
 * Deposits `amountBase` of the payer's own USDC into the escrow in one
 * transaction: the payer signs an EIP-2612 permit (one signature, no separate
 * `approve`) and sends `depositWithPermit`. The payer pays the gas.
 */
export async function depositWithPermit(
  payer: Signer,
  tokenAddress: string,
  escrowAddress: string,
  amountBase: bigint,
  deadlineSeconds = 3_600,
): Promise<TransactionReceipt> {
  const provider = payer.provider;
  if (!provider) throw new Error("depositWithPermit needs a signer connected to a provider");
  const owner = await payer.getAddress();
  const token = MockUSDC__factory.connect(tokenAddress, provider);
  const [nonce, { chainId }, latest] = await Promise.all([
    token.nonces(owner),
    provider.getNetwork(),
    provider.getBlock("latest"),
  ]);
  const deadline = BigInt(latest?.timestamp ?? Math.floor(Date.now() / 1000)) + BigInt(deadlineSeconds);
  const signature = Signature.from(
    await payer.signTypedData(
      { ...USDC_PERMIT_DOMAIN, chainId, verifyingContract: tokenAddress },
      PERMIT_TYPES,
      { owner, spender: escrowAddress, value: amountBase, nonce, deadline },
    ),
  );
  const escrow = UsageEscrow__factory.connect(escrowAddress, payer);
  const tx = await escrow.depositWithPermit(amountBase, deadline, signature.v, signature.r, signature.s);
  const receipt = await tx.wait();
  if (!receipt || receipt.status !== 1) throw new Error(`depositWithPermit ${tx.hash} failed`);
  return receipt;
}
