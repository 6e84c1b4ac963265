import { Contract, Signature, verifyTypedData, type Signer } from "ethers";
import { detectPermit, PERMIT_TYPES, PERMIT_UNSUPPORTED_WORDS } from "./permit";

/**
 * Depositing the user's USDC into the escrow, two ways: one permit signature and one transaction
 * (`depositWithPermit`), or `approve` then `deposit` for a token or a wallet that cannot do
 * permits. Only ethers: the app passes the wallet's signer.
 */

export type DepositMethod = "permit" | "approve";
/** A transaction of the deposit: the approval (approve + deposit only) and the deposit itself. */
export type DepositStage = "approve" | "deposit";
/** "signing": waiting for the wallet (the permit signature, or confirming a transaction). */
export type StageState = "signing" | "submitted" | "confirmed" | "skipped";

export type DepositEvent =
  /** The method this deposit uses, decided before anything is signed; `fallbackReason` when it is not the one asked for. */
  | { type: "method"; method: DepositMethod; fallbackReason?: string }
  | { type: "stage"; stage: DepositStage; state: StageState; txHash?: string };

export interface DepositRequest {
  token: string;
  escrow: string;
  amountBase: bigint;
  method: DepositMethod;
}

export interface DepositResult {
  method: DepositMethod;
  /** Whether an `approve` transaction was sent (not when the allowance already covered the amount). */
  approved: boolean;
  blockNumber: number;
}

/** The wallet holds less of the token than the amount; nothing was signed or sent. */
export class InsufficientTokenBalanceError extends Error {
  constructor(
    readonly balanceBase: bigint,
    readonly amountBase: bigint,
  ) {
    super(`The wallet holds ${balanceBase} base units, less than the ${amountBase} to deposit.`);
    this.name = "InsufficientTokenBalanceError";
  }
}

const ERC20_ERRORS = [
  "error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed)",
  "error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed)",
];
const TOKEN_ABI = [
  "function balanceOf(address owner) view returns (uint256)",
  "function allowance(address owner, address spender) view returns (uint256)",
  "function approve(address spender, uint256 value) returns (bool)",
  ...ERC20_ERRORS,
];
const ESCROW_ABI = [
  "function deposit(uint256 amount)",
  "function depositWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)",
  "error UsageEscrowZeroAmount()",
  "error UsageEscrowZeroAddress()",
  ...ERC20_ERRORS,
];
const PERMIT_LIFETIME_SECONDS = 3600n;

/**
 * Deposits `amountBase` with the method asked for, telling `onEvent` each step. A permit deposit
 * falls back to approve + deposit when the token turns out not to support permits, or when the
 * wallet cannot sign typed data (a user who declines is not a fallback: that error is thrown).
 */
export async function depositToEscrow(signer: Signer, request: DepositRequest, onEvent: (event: DepositEvent) => void): Promise<DepositResult> {
  const provider = signer.provider;
  if (!provider) throw new Error("The wallet has no connection to the chain.");
  const owner = await signer.getAddress();
  const token = new Contract(request.token, TOKEN_ABI, signer);
  const balance = (await token.balanceOf(owner)) as bigint;
  if (balance < request.amountBase) throw new InsufficientTokenBalanceError(balance, request.amountBase);

  if (request.method === "permit") {
    const outcome = await tryPermitDeposit(signer, owner, request, onEvent);
    if (outcome.done) return { method: "permit", approved: false, blockNumber: outcome.blockNumber };
    onEvent({ type: "method", method: "approve", fallbackReason: outcome.fallbackReason });
  } else {
    onEvent({ type: "method", method: "approve" });
  }
  return approveAndDeposit(signer, owner, request, onEvent);
}

type PermitOutcome = { done: true; blockNumber: number } | { done: false; fallbackReason: string };

async function tryPermitDeposit(
  signer: Signer,
  owner: string,
  request: DepositRequest,
  onEvent: (event: DepositEvent) => void,
): Promise<PermitOutcome> {
  const provider = signer.provider!;
  const [{ chainId }, latest] = await Promise.all([provider.getNetwork(), provider.getBlock("latest")]);
  const support = await detectPermit(provider, request.token, owner, chainId);
  if (!support.supported) return { done: false, fallbackReason: `Depositing with approve + deposit: ${PERMIT_UNSUPPORTED_WORDS[support.reason]}.` };

  onEvent({ type: "method", method: "permit" });
  onEvent({ type: "stage", stage: "deposit", state: "signing" });
  // The chain's clock, not the computer's: the token checks the deadline against block time.
  const deadline = BigInt(latest?.timestamp ?? Math.floor(Date.now() / 1000)) + PERMIT_LIFETIME_SECONDS;
  const permit = { owner, spender: request.escrow, value: request.amountBase, nonce: support.nonce, deadline };
  let signature: string;
  try {
    signature = await signer.signTypedData(support.domain, PERMIT_TYPES, permit);
  } catch (error) {
    if (cannotSignTypedData(error)) {
      return { done: false, fallbackReason: "Your wallet cannot sign a permit (EIP-712 typed data), so this deposit uses approve + deposit." };
    }
    throw error;
  }
  // A wallet that signs something else than what it was shown would only waste a transaction.
  if (verifyTypedData(support.domain, PERMIT_TYPES, permit, signature).toLowerCase() !== owner.toLowerCase()) {
    return { done: false, fallbackReason: "Your wallet's permit signature does not match your address, so this deposit uses approve + deposit." };
  }
  const { v, r, s } = Signature.from(signature);
  const escrow = new Contract(request.escrow, ESCROW_ABI, signer);
  const blockNumber = await sendAndConfirm("deposit", () => escrow.depositWithPermit(request.amountBase, deadline, v, r, s), onEvent, false);
  return { done: true, blockNumber };
}

async function approveAndDeposit(signer: Signer, owner: string, request: DepositRequest, onEvent: (event: DepositEvent) => void): Promise<DepositResult> {
  const token = new Contract(request.token, TOKEN_ABI, signer);
  const escrow = new Contract(request.escrow, ESCROW_ABI, signer);
  const allowance = (await token.allowance(owner, request.escrow)) as bigint;
  const approved = allowance < request.amountBase;
  if (approved) {
    // Exactly the amount, never an unlimited allowance: the escrow can take no more than this deposit.
    await sendAndConfirm("approve", () => token.approve(request.escrow, request.amountBase), onEvent);
  } else {
    onEvent({ type: "stage", stage: "approve", state: "skipped" });
  }
  const blockNumber = await sendAndConfirm("deposit", () => escrow.deposit(request.amountBase), onEvent);
  return { method: "approve", approved, blockNumber };
}

/** Sends one transaction through the wallet and waits until it is mined; returns its block. */
async function sendAndConfirm(
  stage: DepositStage,
  send: () => Promise<{ hash: string; wait(): Promise<{ status: number | null; blockNumber: number } | null> }>,
  onEvent: (event: DepositEvent) => void,
  announceSigning = true,
): Promise<number> {
  if (announceSigning) onEvent({ type: "stage", stage, state: "signing" });
  const tx = await send();
  onEvent({ type: "stage", stage, state: "submitted", txHash: tx.hash });
  const receipt = await tx.wait();
  if (!receipt || receipt.status !== 1) {
    throw new Error(stage === "approve" ? "The approval transaction failed on chain." : "The deposit transaction failed on chain.");
  }
  onEvent({ type: "stage", stage, state: "confirmed", txHash: tx.hash });
  return receipt.blockNumber;
}

/**
 * Whether the wallet refused to sign typed data because it cannot (EIP-1193 4200 "unsupported
 * method", JSON-RPC -32601 "method not found"), as opposed to the user declining (4001).
 */
export function cannotSignTypedData(error: unknown): boolean {
  const e = error as { code?: unknown; error?: { code?: unknown; message?: unknown }; info?: { error?: { code?: unknown; message?: unknown } }; message?: unknown };
  if (e?.code === "ACTION_REJECTED" || e?.code === 4001) return false;
  if (e?.code === "UNSUPPORTED_OPERATION") return true;
  const codes = [e?.code, e?.error?.code, e?.info?.error?.code];
  if (codes.includes(4200) || codes.includes(-32601)) return true;
  const messages = [e?.message, e?.error?.message, e?.info?.error?.message].filter((m): m is string => typeof m === "string");
  return messages.some((m) => /ethers-unsupported|not supported|unsupported method|method not found|does not exist|not implemented/i.test(m));
}
