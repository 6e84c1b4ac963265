import { BrowserProvider, Contract, Signature, type Eip1193Provider, type JsonRpcSigner } from "ethers";
import { SiweMessage } from "siwe";
import { api, setCsrfToken, type Session } from "./api";

declare global {
  interface Window {
    ethereum?: Eip1193Provider;
  }
}

export function hasWallet(): boolean {
  return typeof window !== "undefined" && !!window.ethereum;
}

export async function connectWallet(): Promise<{ provider: BrowserProvider; signer: JsonRpcSigner }> {
  if (!window.ethereum) throw new Error("No wallet found. Install a browser wallet such as MetaMask, then reload this page.");
  const provider = new BrowserProvider(window.ethereum);
  await provider.send("eth_requestAccounts", []);
  const signer = await provider.getSigner();
  return { provider, signer };
}

/** Sign-In with Ethereum: nonce → EIP-4361 message → personal_sign → verify. */
export async function signIn(): Promise<Session> {
  const { provider, signer } = await connectWallet();
  const nonce = await api.nonce();
  setCsrfToken(nonce.csrf_token);
  const network = await provider.getNetwork();
  if (Number(network.chainId) !== nonce.chain_id) {
    throw new Error(`Your wallet is on chain ${network.chainId}; ShareAI expects chain ${nonce.chain_id}. Switch networks in your wallet and try again.`);
  }
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

const TOKEN_ABI = [
  "function nonces(address owner) view returns (uint256)",
  "function balanceOf(address owner) view returns (uint256)",
  "function name() view returns (string)",
];
const ESCROW_ABI = [
  "function depositWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)",
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
};

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

export type DepositStep = "signing" | "submitted" | "confirmed";

/** USDC's EIP-2612 domain (MockUSDC copies it). */
const PERMIT_DOMAIN = { name: "USD Coin", version: "2" };
const PERMIT_TYPES = {
  Permit: [
    { name: "owner", type: "address" },
    { name: "spender", type: "address" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

export async function walletTokenBalance(tokenAddress: string): Promise<bigint> {
  const { provider, signer } = await connectWallet();
  const token = new Contract(tokenAddress, TOKEN_ABI, provider);
  return (await token.balanceOf(await signer.getAddress())) as bigint;
}

/** One signature (the permit), one transaction (depositWithPermit). Returns the block it was mined in. */
export async function depositWithPermit(
  tokenAddress: string,
  escrowAddress: string,
  amountBase: bigint,
  onStep: (step: DepositStep, detail?: string) => void,
): Promise<number> {
  const { provider, signer } = await connectWallet();
  const owner = await signer.getAddress();
  const token = new Contract(tokenAddress, TOKEN_ABI, provider);
  const [nonce, network, latest, balance] = await Promise.all([
    token.nonces(owner) as Promise<bigint>,
    provider.getNetwork(),
    provider.getBlock("latest"),
    token.balanceOf(owner) as Promise<bigint>,
  ]);
  if (balance < amountBase) {
    throw new Error(`Your wallet holds less USDC than that (${Number(balance) / 1e6} USDC).`);
  }
  const deadline = BigInt(latest?.timestamp ?? Math.floor(Date.now() / 1000)) + 3600n;
  onStep("signing");
  const signature = Signature.from(
    await signer.signTypedData(
      { ...PERMIT_DOMAIN, chainId: network.chainId, verifyingContract: tokenAddress },
      PERMIT_TYPES,
      { owner, spender: escrowAddress, value: amountBase, nonce, deadline },
    ),
  );
  const escrow = new Contract(escrowAddress, ESCROW_ABI, signer);
  const tx = await escrow.depositWithPermit(amountBase, deadline, signature.v, signature.r, signature.s);
  onStep("submitted", tx.hash);
  const receipt = await tx.wait();
  if (!receipt || receipt.status !== 1) throw new Error("The deposit transaction failed on chain.");
  onStep("confirmed", tx.hash);
  return receipt.blockNumber;
}

/** Wallet and chain errors in plain words. */
export function plainError(error: unknown): string {
  const e = error as { code?: unknown; info?: { error?: { code?: number; message?: string } }; shortMessage?: string; reason?: string; message?: string };
  const code = e?.code ?? e?.info?.error?.code;
  if (code === "ACTION_REJECTED" || code === 4001) return "You declined the request in your wallet. Nothing was signed or sent.";
  if (code === 4100) return "Your wallet did not authorise this site. Connect the account in your wallet and try again.";
  if (code === "INSUFFICIENT_FUNDS") return "Your wallet does not have enough ETH to pay for gas.";
  if (code === "NETWORK_ERROR") return "Could not reach the chain through your wallet. Check that it is on the right network.";
  const revert = (error as { revert?: { name?: string } })?.revert;
  if (revert?.name && ESCROW_ERRORS[revert.name]) return ESCROW_ERRORS[revert.name];
  if (code === "CALL_EXCEPTION") {
    return `The contract refused the transaction${e.reason ? `: ${e.reason}` : ""}. Nothing was taken from your wallet.`;
  }
  if (e?.shortMessage) return e.shortMessage;
  if (e?.message) return e.message;
  return String(error);
}
