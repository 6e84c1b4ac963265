import { Signature, TypedDataEncoder, type Signer, type TypedDataDomain } from "ethers";

/** The escrow's EIP-712 domain name and version (fixed by IUsageEscrow). */
export const ESCROW_DOMAIN_NAME = "ShareAI UsageEscrow";
export const ESCROW_DOMAIN_VERSION = "1";

/** EIP-712 types of a voucher, as `UsageEscrow` hashes them. */
export const VOUCHER_TYPES = {
  Voucher: [
    { name: "payer", type: "address" },
    { name: "provider", type: "address" },
    { name: "cumulativeAmount", type: "uint128" },
    { name: "usageRoot", type: "bytes32" },
  ],
} as const;

/** A cumulative usage voucher; amounts are USDC base units. */
export interface Voucher {
  payer: string;
  provider: string;
  cumulativeAmount: bigint;
  usageRoot: string;
}

export function escrowDomain(chainId: bigint, escrowAddress: string): TypedDataDomain {
  return { name: ESCROW_DOMAIN_NAME, version: ESCROW_DOMAIN_VERSION, chainId, verifyingContract: escrowAddress };
}

/** The digest the escrow's `hashVoucher` returns and a signer signs. */
export function hashVoucher(domain: TypedDataDomain, voucher: Voucher): string {
  return TypedDataEncoder.hash(domain, { Voucher: [...VOUCHER_TYPES.Voucher] }, voucher);
}

/** Signs `voucher` for the escrow of `domain`; returns the 65-byte signature the escrow expects. */
export async function signVoucher(signer: Signer, domain: TypedDataDomain, voucher: Voucher): Promise<string> {
  const signature = await signer.signTypedData(domain, { Voucher: [...VOUCHER_TYPES.Voucher] }, voucher);
  // Normalise to the canonical low-s form the escrow accepts (ethers already produces it).
  return Signature.from(signature).serialized;
}
