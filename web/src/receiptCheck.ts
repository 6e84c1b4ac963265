import type { ReceiptBundle } from "../../server/settlement/receiptBundle";
import type { VerifyReceiptResult } from "../../server/settlement/verification";
import { ApiError } from "./api";

// The verifier is the server's own code (the same as `shareai verify-receipt`), loaded only when a
// receipt is opened: the bundle parser (zod), the Merkle proof and voucher checks, and the escrow
// reader (ethers with an ABI-only contract, no TypeChain factory) stay out of the pages' chunks.
const loadParser = () => import("../../server/settlement/receiptBundle");
const loadVerifier = () =>
  Promise.all([import("../../server/chain/escrowReader"), import("../../server/settlement/verifyReceipt"), import("ethers")]);

/** `GET /api/usage/{id}/receipt`, parsed as `shareai verify-receipt` parses a bundle file. */
export async function fetchReceipt(requestId: string): Promise<{ json: unknown; bundle: ReceiptBundle }> {
  const parser = loadParser(); // in parallel with the request
  parser.catch(() => undefined); // awaited below unless the request fails first
  const response = await fetch(`/api/usage/${encodeURIComponent(requestId)}/receipt`, { credentials: "same-origin" });
  const json = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (json as { error?: { message?: string; code?: string } } | null)?.error;
    throw new ApiError(response.status, error?.code ?? null, error?.message ?? `${response.status}`);
  }
  const { parseReceiptBundle } = await parser;
  return { json, bundle: parseReceiptBundle(json) };
}

/**
 * The same checks as `shareai verify-receipt`, in the browser: the chain is read through the
 * user's wallet (its RPC), never through ShareAI.
 */
export async function verifyInBrowser(bundle: ReceiptBundle): Promise<VerifyReceiptResult> {
  if (!window.ethereum) throw new Error("Verifying on chain reads the chain through your wallet; no wallet was found.");
  const [{ connectEscrowReader }, { verifyReceipt }, { BrowserProvider }] = await loadVerifier();
  const provider = new BrowserProvider(window.ethereum);
  const reader = await connectEscrowReader(provider, bundle.escrow.address);
  return verifyReceipt(bundle, reader);
}
