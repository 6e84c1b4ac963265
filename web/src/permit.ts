import { Contract, TypedDataEncoder, id, type ContractRunner, type TypedDataDomain } from "ethers";
import { PERMIT_TYPES } from "../../server/chain/permitTypes";

/**
 * Whether a token accepts EIP-2612 permits, and the EIP-712 domain to sign them under. Only ethers
 * (no window, no wallet): the app passes the wallet's provider, tests a JSON-RPC provider or a fake.
 */

export { PERMIT_TYPES };

/** keccak256 of EIP-2612's `Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)`. */
export const PERMIT_TYPEHASH = id(TypedDataEncoder.from(PERMIT_TYPES).encodeType("Permit"));

const PERMIT_READ_ABI = [
  "function nonces(address owner) view returns (uint256)",
  "function DOMAIN_SEPARATOR() view returns (bytes32)",
  "function PERMIT_TYPEHASH() view returns (bytes32)",
  "function eip712Domain() view returns (bytes1 fields, string name, string version, uint256 chainId, address verifyingContract, bytes32 salt, uint256[] extensions)",
  "function name() view returns (string)",
  "function version() view returns (string)",
];

export type PermitUnsupportedReason = "no_permit" | "unknown_domain" | "other_permit_type";

export type PermitSupport =
  | { supported: true; domain: TypedDataDomain; nonce: bigint }
  | { supported: false; reason: PermitUnsupportedReason };

export const PERMIT_UNSUPPORTED_WORDS: Record<PermitUnsupportedReason, string> = {
  no_permit: "the token has no EIP-2612 permit",
  unknown_domain: "the token's permit domain could not be worked out, so a permit signature would be refused",
  other_permit_type: "the token's permit is not the EIP-2612 kind",
};

/**
 * Asks the token, with read-only calls, whether a permit signed by `owner` would work:
 * `nonces(owner)` and `DOMAIN_SEPARATOR()` must answer, the domain (EIP-5267 `eip712Domain()`, or
 * `name()` with `version()`, else the usual versions "1" and "2") must hash to that separator, and
 * a `PERMIT_TYPEHASH()`, where the token has one, must be EIP-2612's. A call that reverts or returns
 * nothing means "not supported"; any other failure (the network) is thrown.
 */
export async function detectPermit(runner: ContractRunner, tokenAddress: string, owner: string, chainId: bigint): Promise<PermitSupport> {
  const token = new Contract(tokenAddress, PERMIT_READ_ABI, runner);
  const [nonce, separator, typehash] = await Promise.all([
    optional<bigint>(token.nonces(owner)),
    optional<string>(token.DOMAIN_SEPARATOR()),
    optional<string>(token.PERMIT_TYPEHASH()),
  ]);
  if (nonce === undefined || separator === undefined) return { supported: false, reason: "no_permit" };
  if (typehash !== undefined && typehash.toLowerCase() !== PERMIT_TYPEHASH.toLowerCase()) {
    return { supported: false, reason: "other_permit_type" };
  }
  for (const domain of await domainCandidates(token, tokenAddress, chainId)) {
    if (TypedDataEncoder.hashDomain(domain).toLowerCase() === separator.toLowerCase()) return { supported: true, domain, nonce };
  }
  return { supported: false, reason: "unknown_domain" };
}

async function domainCandidates(token: Contract, tokenAddress: string, chainId: bigint): Promise<TypedDataDomain[]> {
  const announced = await optional<[string, string, string, bigint, string, string, bigint[]]>(token.eip712Domain());
  if (announced) {
    const [fields, name, version, announcedChainId, verifyingContract, salt, extensions] = announced;
    if (extensions.length > 0) return [];
    const bits = Number(fields);
    const domain: TypedDataDomain = {};
    if (bits & 0x01) domain.name = name;
    if (bits & 0x02) domain.version = version;
    if (bits & 0x04) domain.chainId = announcedChainId;
    if (bits & 0x08) domain.verifyingContract = verifyingContract;
    if (bits & 0x10) domain.salt = salt;
    return [domain];
  }
  const [name, version] = await Promise.all([optional<string>(token.name()), optional<string>(token.version())]);
  if (name === undefined) return [];
  return (version === undefined ? ["1", "2"] : [version]).map((v) => ({ name, version: v, chainId, verifyingContract: tokenAddress }));
}

/** The call's result, or undefined when the token has no such function (it reverts or returns nothing). */
async function optional<T>(call: Promise<unknown>): Promise<T | undefined> {
  try {
    return (await call) as T;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "CALL_EXCEPTION" || code === "BAD_DATA") return undefined;
    throw error;
  }
}
