import { Signature, TypedDataEncoder, recoverAddress, type Signer, type TypedDataDomain } from "ethers";

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

/** secp256k1's group order; the escrow (OpenZeppelin ECDSA) rejects any `s` above half of it. */
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const SECP256K1_HALF_N = SECP256K1_N / 2n;

/**
 * Why the escrow would reject `signature` as malformed, or null if it is well-formed. Mirrors
 * OpenZeppelin's `ECDSA.tryRecover`: exactly 65 bytes, `v` 27 or 28, `s` in the lower half.
 * ethers alone is laxer (it accepts `v` 0/1), so a verifier that trusted it could call valid a
 * signature the escrow would never settle.
 */
export function signatureMalformation(signature: string): string | null {
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) return "a voucher signature is 65 bytes of hex (r, s, v)";
  const r = BigInt(`0x${signature.slice(2, 66)}`);
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const v = Number.parseInt(signature.slice(130, 132), 16);
  if (v !== 27 && v !== 28) return `v is ${v}; the escrow accepts only 27 or 28`;
  if (r === 0n || r >= SECP256K1_N || s === 0n) return "r or s is out of range; it recovers to no address";
  if (s > SECP256K1_HALF_N) return "s is in the upper half of the curve order (a malleable signature)";
  return null;
}

/**
 * The address that signed `voucher` under `domain`, lower-cased, as the escrow would recover it.
 * Throws if the signature is malformed (see {@link signatureMalformation}) or recovers to no
 * point on the curve.
 */
export function recoverVoucherSigner(domain: TypedDataDomain, voucher: Voucher, signature: string): string {
  const problem = signatureMalformation(signature);
  if (problem) throw new TypeError(`malformed voucher signature: ${problem}`);
  return recoverAddress(hashVoucher(domain, voucher), signature).toLowerCase();
}
