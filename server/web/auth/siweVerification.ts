import { Signature } from "ethers";
import type { SiweMessage } from "siwe";
import type { PublicSite } from "../publicSite";

/** What a sign-in message must say to be accepted here. */
export interface SiweExpectations {
  site: PublicSite;
  chainId: number;
  now: Date;
  /** How far ahead of our clock `Issued At` may be (a wallet's clock runs a little fast). */
  maxClockSkewMs: number;
  /** How old `Issued At` may be: a nonce lives this long, so no valid message is older. */
  maxAgeMs: number;
}

export type SiweRejection =
  | "unparseable_message"
  | "domain_mismatch"
  | "scheme_mismatch"
  | "uri_mismatch"
  | "chain_mismatch"
  | "issued_in_future"
  | "message_too_old"
  | "message_expired"
  | "not_yet_valid"
  | "invalid_signature";

export type SiweVerification =
  | { isValid: true; message: SiweMessage; address: string }
  | { isValid: false; invalidReason: SiweRejection; detail: string; param: string | null };

/**
 * Checks an EIP-4361 message and its signature against this site, chain and
 * clock. Pure apart from the clock it is given: the nonce is the caller's to
 * consume (atomically, in the database) once everything here has passed, so a
 * refused attempt does not burn it and a replayed message finds it gone.
 *
 * The `siwe` library parses the message (the ABNF of EIP-4361, EIP-55 address,
 * version 1) and checks the signature, domain, scheme and the expiration and
 * not-before times; the checks it leaves to the relying party (chain id, URI,
 * `Issued At`) are made here, and so, first, are the ones it makes, so that
 * each refusal can say which field was wrong.
 */
export async function verifySiweMessage(
  text: string,
  signature: string,
  expected: SiweExpectations
): Promise<SiweVerification> {
  let message: SiweMessage;
  try {
    // siwe (its EIP-4361 parser) is loaded at the first sign-in, not by every gateway at start.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { SiweMessage: Message } = require("siwe") as typeof import("siwe");
    message = new Message(text);
  } catch (error) {
    return reject(
      "unparseable_message",
      `The message is not a valid Sign-In with Ethereum message (${describe(error)}).`,
      "message"
    );
  }
  const { site, now } = expected;
  if (message.domain !== site.host) {
    return reject(
      "domain_mismatch",
      `The message is for '${message.domain}', but this site is '${site.host}'.`,
      "domain"
    );
  }
  if (message.scheme !== undefined && message.scheme !== site.scheme) {
    return reject(
      "scheme_mismatch",
      `The message is for ${message.scheme}://, but this site is ${site.scheme}://.`,
      "scheme"
    );
  }
  if (originOf(message.uri) !== site.origin) {
    return reject("uri_mismatch", `The message's URI must be on ${site.origin}.`, "uri");
  }
  if (message.chainId !== expected.chainId) {
    return reject(
      "chain_mismatch",
      `The message names chain ${message.chainId}, but ShareAI settles on chain ${expected.chainId}. Switch your wallet's network.`,
      "chainId"
    );
  }
  const issuedAt = Date.parse(message.issuedAt ?? "");
  if (!Number.isFinite(issuedAt)) {
    return reject("unparseable_message", "The message has no valid Issued At time.", "issuedAt");
  }
  if (issuedAt > now.getTime() + expected.maxClockSkewMs) {
    return reject("issued_in_future", "The message was issued in the future: check your computer's clock.", "issuedAt");
  }
  if (issuedAt < now.getTime() - expected.maxAgeMs - expected.maxClockSkewMs) {
    return reject("message_too_old", "The message was issued too long ago; sign in again.", "issuedAt");
  }
  if (message.expirationTime !== undefined && Date.parse(message.expirationTime) <= now.getTime()) {
    return reject("message_expired", "The message has expired; sign in again.", "expirationTime");
  }
  if (message.notBefore !== undefined && Date.parse(message.notBefore) > now.getTime()) {
    return reject("not_yet_valid", "The message is not valid yet (its Not Before time is in the future).", "notBefore");
  }
  // siwe logs to the console when the signature cannot even be decoded; decode it first.
  try {
    Signature.from(signature);
  } catch {
    return reject("invalid_signature", "The signature is not a valid Ethereum signature.", "signature");
  }
  // Only externally owned accounts: EIP-1271 contract wallets would need a chain provider here.
  const result = await message.verify(
    {
      signature,
      domain: site.host,
      time: now.toISOString(),
      ...(message.scheme ? { scheme: site.scheme } : {}),
    },
    { suppressExceptions: true }
  );
  if (!result.success) {
    return reject("invalid_signature", "The signature was not made by the address in the message.", "signature");
  }
  return { isValid: true, message, address: message.address.toLowerCase() };
}

function reject(invalidReason: SiweRejection, detail: string, param: string | null): SiweVerification {
  return { isValid: false, invalidReason, detail, param };
}

function originOf(uri: string): string | null {
  try {
    return new URL(uri).origin;
  } catch {
    return null;
  }
}

function describe(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0].slice(0, 200);
}
