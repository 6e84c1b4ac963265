/**
 * An error from the gateway's JSON API (or the browser's fetch) in plain
 * words. Pages that never touch the wallet use this, so they load without
 * ethers; wallet.ts's `plainError` adds the wallet's and the chain's errors.
 */
export function plainApiError(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === "string" && message ? message : String(error);
}
