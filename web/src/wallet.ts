import { BrowserProvider, Contract, Interface, type Eip1193Provider, type JsonRpcSigner } from "ethers";
import { api, setCsrfToken, type Session } from "./api";
import { plainApiError } from "./apiErrors";
import { sessionAccount } from "./sessionAccount";
import { InsufficientTokenBalanceError } from "./deposit";
import { baseToUsdc } from "./money";

declare global {
  interface Window {
    ethereum?: Eip1193Provider;
  }
}

export function hasWallet(): boolean {
  return typeof window !== "undefined" && !!window.ethereum;
}

/** The wallet's current account is not the one this browser is signed in as; nothing was signed or sent. */
export class WalletAccountMismatchError extends Error {
  constructor(readonly walletAccount: string, readonly signedInAccount: string) {
    super(`The wallet's account ${walletAccount} is not the signed-in account ${signedInAccount}.`);
    this.name = "WalletAccountMismatchError";
  }
}

/**
 * The wallet, for a transaction or a signature of the signed-in account: refused when the wallet
 * has since switched to another account, which would deposit into, withdraw from or claim for an
 * account other than the one this page shows.
 */
export async function connectWallet(): Promise<{ provider: BrowserProvider; signer: JsonRpcSigner }> {
  const connected = await connectAnyAccount();
  const expected = sessionAccount();
  const actual = connected.signer.address.toLowerCase();
  if (expected && actual !== expected) throw new WalletAccountMismatchError(actual, expected);
  return connected;
}

/** The wallet's current account, whichever it is: what signing in uses. */
async function connectAnyAccount(): Promise<{ provider: BrowserProvider; signer: JsonRpcSigner }> {
  if (!window.ethereum) throw new Error("No wallet found. Install a browser wallet such as MetaMask, then reload this page.");
  const provider = new BrowserProvider(window.ethereum);
  await provider.send("eth_requestAccounts", []);
  const signer = await provider.getSigner();
  return { provider, signer };
}

/** Sign-In with Ethereum: nonce → EIP-4361 message → personal_sign → verify. */
export async function signIn(): Promise<Session> {
  const { provider, signer } = await connectAnyAccount();
  const nonce = await api.nonce();
  setCsrfToken(nonce.csrf_token);
  const network = await provider.getNetwork();
  if (Number(network.chainId) !== nonce.chain_id) {
    throw new Error(`Your wallet is on chain ${network.chainId}; ShareAI expects chain ${nonce.chain_id}. Switch networks in your wallet and try again.`);
  }
  // siwe (and its parser) loads only when someone signs in.
  const { SiweMessage } = await import("siwe");
  const message = new SiweMessage({
    domain: nonce.domain,
    address: await signer.getAddress(),
    statement: nonce.statement,
    uri: nonce.uri,
    version: nonce.version,
    chainId: nonce.chain_id,
    nonce: nonce.nonce,
    issuedAt: nonce.issued_at,
    expirationTime: nonce.expiration_time,
  }).prepareMessage();
  const signature = await signer.signMessage(message);
  const session = await api.verify(message, signature);
  setCsrfToken(session.csrf_token);
  return session;
}

const TOKEN_ABI = ["function balanceOf(address owner) view returns (uint256)"];
const ESCROW_ABI = [
  "function balanceOf(address payer) view returns (uint256 available, uint256 thawing, uint64 thawEndsAt)",
  "function thawingPeriod() view returns (uint64)",
  "function requestWithdrawal(uint256 amount)",
  "function cancelWithdrawal()",
  "function withdraw(address to) returns (uint256)",
  "error UsageEscrowZeroAmount()",
  "error UsageEscrowZeroAddress()",
  "error UsageEscrowInsufficientBalance(uint256 available, uint256 requested)",
  "error UsageEscrowNothingThawing()",
  "error UsageEscrowStillThawing(uint64 thawEndsAt)",
];

/** Custom errors of the escrow, in plain words. */
const ESCROW_ERRORS: Record<string, string> = {
  UsageEscrowZeroAmount: "The amount must be more than 0.",
  UsageEscrowZeroAddress: "The destination address is missing.",
  UsageEscrowInsufficientBalance: "That is more than your available balance in the escrow.",
  UsageEscrowNothingThawing: "Nothing is thawing: request a withdrawal first.",
  UsageEscrowStillThawing: "The thawing period has not ended yet; wait for the countdown to finish.",
  ERC20InsufficientBalance: "Your wallet does not hold enough USDC for this.",
  ERC20InsufficientAllowance: "The escrow is not allowed to take that much USDC from your wallet: approve the amount first.",
};
/** Decodes revert data the contract call did not decode (a wallet that passes the raw data on). */
const KNOWN_ERRORS = new Interface([
  ...ESCROW_ABI.filter((fragment) => fragment.startsWith("error ")),
  "error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed)",
  "error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed)",
]);

export interface OnchainBalance {
  available: bigint;
  thawing: bigint;
  thawEndsAt: bigint;
  thawingPeriod: bigint;
  /** The latest block's timestamp: the chain's clock, which the countdown runs on. */
  chainNow: bigint;
}

export async function escrowBalance(escrowAddress: string): Promise<OnchainBalance> {
  const { provider, signer } = await connectWallet();
  const escrow = new Contract(escrowAddress, ESCROW_ABI, provider);
  const [[available, thawing, thawEndsAt], thawingPeriod, latest] = await Promise.all([
    escrow.balanceOf(await signer.getAddress()) as Promise<[bigint, bigint, bigint]>,
    escrow.thawingPeriod() as Promise<bigint>,
    provider.getBlock("latest"),
  ]);
  return { available, thawing, thawEndsAt, thawingPeriod, chainNow: BigInt(latest?.timestamp ?? Math.floor(Date.now() / 1000)) };
}

export type EscrowAction = { kind: "request"; amountBase: bigint } | { kind: "cancel" } | { kind: "withdraw" };

/** Sends one withdrawal transaction and waits for it. */
export async function escrowAction(escrowAddress: string, action: EscrowAction, onSubmitted?: (hash: string) => void): Promise<void> {
  const { signer } = await connectWallet();
  const escrow = new Contract(escrowAddress, ESCROW_ABI, signer);
  const tx =
    action.kind === "request"
      ? await escrow.requestWithdrawal(action.amountBase)
      : action.kind === "cancel"
        ? await escrow.cancelWithdrawal()
        : await escrow.withdraw(await signer.getAddress());
  onSubmitted?.(tx.hash);
  const receipt = await tx.wait();
  if (!receipt || receipt.status !== 1) throw new Error("The transaction failed on chain.");
}

export async function walletTokenBalance(tokenAddress: string): Promise<bigint> {
  const { provider, signer } = await connectWallet();
  const token = new Contract(tokenAddress, TOKEN_ABI, provider);
  return (await token.balanceOf(await signer.getAddress())) as bigint;
}

/** Wallet and chain errors in plain words. */
export function plainError(error: unknown): string {
  const e = error as { code?: unknown; info?: { error?: { code?: number; message?: string } }; shortMessage?: string; reason?: string; message?: string };
  if (error instanceof WalletAccountMismatchError) {
    return `Your wallet is now on account ${error.walletAccount}, but you are signed in as ${error.signedInAccount}. Switch back to that account in your wallet, or sign out and sign in with the new one. Nothing was signed or sent.`;
  }
  if (error instanceof InsufficientTokenBalanceError) {
    return `Your wallet holds ${baseToUsdc(error.balanceBase)} USDC, less than the ${baseToUsdc(error.amountBase)} USDC to deposit. Nothing was signed or sent.`;
  }
  const code = e?.code ?? e?.info?.error?.code;
  if (code === "ACTION_REJECTED" || code === 4001) return "You declined the request in your wallet. Nothing was signed or sent.";
  if (code === 4100) return "Your wallet did not authorise this site. Connect the account in your wallet and try again.";
  if (code === "INSUFFICIENT_FUNDS") return "Your wallet does not have enough ETH to pay for gas.";
  if (code === "NETWORK_ERROR") return "Could not reach the chain through your wallet. Check that it is on the right network.";
  const revertName = (error as { revert?: { name?: string } })?.revert?.name ?? decodeRevertName(error);
  if (revertName && ESCROW_ERRORS[revertName]) return ESCROW_ERRORS[revertName];
  if (typeof e?.reason === "string" && /exceeds balance/i.test(e.reason)) return ESCROW_ERRORS.ERC20InsufficientBalance;
  if (typeof e?.reason === "string" && /exceeds allowance/i.test(e.reason)) return ESCROW_ERRORS.ERC20InsufficientAllowance;
  if (code === "CALL_EXCEPTION") {
    return `The contract refused the transaction${e.reason ? `: ${e.reason}` : ""}. Nothing was taken from your wallet.`;
  }
  if (e?.shortMessage) return e.shortMessage;
  return plainApiError(error);
}

function decodeRevertName(error: unknown): string | undefined {
  const e = error as { data?: unknown; info?: { error?: { data?: unknown } } };
  const data = [e?.data, e?.info?.error?.data].find((d): d is string => typeof d === "string" && d.length >= 10);
  if (!data) return undefined;
  try {
    return KNOWN_ERRORS.parseError(data)?.name;
  } catch {
    return undefined;
  }
}
