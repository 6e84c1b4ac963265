/**
 * The account this browser is signed in as (lower-case address), or null.
 * A module of its own, with no wallet code, so the shell can keep it current
 * without loading ethers; wallet.ts reads it before every transaction.
 */
let signedInAccount: string | null = null;

export function setSessionAccount(account: string | null): void {
  signedInAccount = account?.toLowerCase() ?? null;
}

export function sessionAccount(): string | null {
  return signedInAccount;
}
