import { ethers, network } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { Signature, type Signer, type TypedDataDomain, type TypedDataField } from "ethers";
import type { MockUSDC, ReentrantToken } from "../../../typechain-types";

/** The v, r, s form that `permit` and the EIP-3009 functions take. */
export interface SplitSignature {
  v: number;
  r: string;
  s: string;
}

/** An EIP-3009 authorization, field for field as USDC hashes it. */
export interface Authorization {
  from: string;
  to: string;
  value: bigint;
  validAfter: bigint;
  validBefore: bigint;
  nonce: string;
}

export type AuthorizationType = "ReceiveWithAuthorization" | "TransferWithAuthorization";

const PERMIT_FIELDS: TypedDataField[] = [
  { name: "owner", type: "address" },
  { name: "spender", type: "address" },
  { name: "value", type: "uint256" },
  { name: "nonce", type: "uint256" },
  { name: "deadline", type: "uint256" },
];

const AUTHORIZATION_FIELDS: TypedDataField[] = [
  { name: "from", type: "address" },
  { name: "to", type: "address" },
  { name: "value", type: "uint256" },
  { name: "validAfter", type: "uint256" },
  { name: "validBefore", type: "uint256" },
  { name: "nonce", type: "bytes32" },
];

/** USDC's own domain, written out rather than read from the mock: signatures must work on the real token. */
export async function usdcDomain(usdc: MockUSDC): Promise<TypedDataDomain> {
  return {
    name: "USD Coin",
    version: "2",
    chainId: BigInt(network.config.chainId ?? 31337),
    verifyingContract: await usdc.getAddress(),
  };
}

function split(signature: string): SplitSignature {
  const { v, r, s } = Signature.from(signature);
  return { v, r, s };
}

/** `owner` signs an EIP-2612 permit for `spender` under its current nonce. */
export async function signPermit(
  usdc: MockUSDC,
  owner: Signer,
  spender: string,
  value: bigint,
  deadline: bigint,
): Promise<SplitSignature> {
  const ownerAddress = await owner.getAddress();
  const message = { owner: ownerAddress, spender, value, nonce: await usdc.nonces(ownerAddress), deadline };
  return split(await owner.signTypedData(await usdcDomain(usdc), { Permit: PERMIT_FIELDS }, message));
}

/** An authorization from `from` to `to` for `value`, valid from now for an hour, with a fresh nonce. */
export async function authorization(from: string, to: string, value: bigint): Promise<Authorization> {
  return {
    from,
    to,
    value,
    validAfter: 0n,
    validBefore: BigInt(await time.latest()) + 3600n,
    nonce: ethers.hexlify(ethers.randomBytes(32)),
  };
}

/** `by` signs `auth` as `type` (the escrow needs a ReceiveWithAuthorization). */
export async function signAuthorization(
  usdc: MockUSDC,
  by: Signer,
  auth: Authorization,
  type: AuthorizationType = "ReceiveWithAuthorization",
): Promise<SplitSignature> {
  return split(await by.signTypedData(await usdcDomain(usdc), { [type]: AUTHORIZATION_FIELDS }, { ...auth }));
}

/**
 * Makes the ReentrantToken contract itself call `target` with `data`, outside any escrow call: the
 * hook is armed and fired by a zero-value transfer of `trigger`'s. This lets the token hold a
 * deposit and earnings of its own, so a reentrant call it makes later would move real money if the
 * escrow let it through.
 */
export async function callFromToken(token: ReentrantToken, target: string, data: string, trigger: Signer) {
  await token.setReentry(target, data);
  await token.connect(trigger).transfer(await trigger.getAddress(), 0n);
  if (!(await token.lastReentrySucceeded())) {
    throw new Error(`the token's call to ${target} failed: ${await token.lastReentryRevertData()}`);
  }
}
