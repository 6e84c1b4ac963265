import { BrowserProvider } from "ethers";
import { connectEscrowReader } from "../../server/chain/escrowReader";
import { parseReceiptBundle, type ReceiptBundle } from "../../server/settlement/receiptBundle";
import type { VerifyReceiptResult } from "../../server/settlement/verification";
import { verifyReceipt } from "../../server/settlement/verifyReceipt";
import { ApiError } from "./api";

/** `GET /api/usage/{id}/receipt`, parsed as `shareai verify-receipt` parses a bundle file. */
export async function fetchReceipt(requestId: string): Promise<{ json: unknown; bundle: ReceiptBundle }> {
  const response = await fetch(`/api/usage/${encodeURIComponent(requestId)}/receipt`, { credentials: "same-origin" });
  const json = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (json as { error?: { message?: string; code?: string } } | null)?.error;
    throw new ApiError(response.status, error?.code ?? null, error?.message ?? `${response.status}`);
  }
  return { json, bundle: parseReceiptBundle(json) };
}

/**
 * The same checks as `shareai verify-receipt`, in the browser: the chain is read through the
 * user's wallet (its RPC), never through ShareAI.
 */
export async function verifyInBrowser(bundle: ReceiptBundle): Promise<VerifyReceiptResult> {
  if (!window.ethereum) throw new Error("Verifying on chain reads the chain through your wallet; no wallet was found.");
  const provider = new BrowserProvider(window.ethereum);
  const reader = await connectEscrowReader(provider, bundle.escrow.address);
  return verifyReceipt(bundle, reader);
}
