import { SiweMessage } from "siwe";

/**
 * A browser, as far as the web API can tell: a cookie jar, the page's
 * `Origin`, and the web app's habit of echoing the CSRF cookie in
 * `x-csrf-token`. Requests go to the gateway's real port with Node's fetch.
 */
export interface BrowserResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON, or the text when the body is not JSON. */
  body: any;
  text: string;
  setCookies: string[];
}

export interface RequestOptions {
  body?: unknown;
  /** Extra headers; `null` removes one the browser would send (`origin`, `x-csrf-token`). */
  headers?: Record<string, string | null>;
}

export class Browser {
  readonly cookies = new Map<string, string>();

  constructor(readonly serverUrl: string, readonly origin: string) {}

  cookie(name: string): string | undefined {
    return [...this.cookies].find(([key]) => key.endsWith(name))?.[1];
  }

  get csrfToken(): string | undefined {
    return this.cookie("shareai_csrf");
  }

  async request(method: string, path: string, options: RequestOptions = {}): Promise<BrowserResponse> {
    const headers: Record<string, string> = {};
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    if (method !== "GET" && method !== "HEAD") {
      headers.origin = this.origin;
      if (this.csrfToken) headers["x-csrf-token"] = this.csrfToken;
    }
    if (options.body !== undefined) headers["content-type"] = "application/json";
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      if (value === null) delete headers[name];
      else headers[name] = value;
    }
    const response = await fetch(`${this.serverUrl}${path}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const setCookies = response.headers.getSetCookie();
    for (const line of setCookies) this.store(line);
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON (CSV): keep the text.
    }
    return { status: response.status, headers: response.headers, body, text, setCookies };
  }

  get(path: string, options?: RequestOptions) {
    return this.request("GET", path, options);
  }

  post(path: string, body?: unknown, options: RequestOptions = {}) {
    return this.request("POST", path, { ...options, body });
  }

  patch(path: string, body: unknown, options: RequestOptions = {}) {
    return this.request("PATCH", path, { ...options, body });
  }

  delete(path: string, options?: RequestOptions) {
    return this.request("DELETE", path, options);
  }

  private store(setCookie: string): void {
    const [pair, ...attributes] = setCookie.split(";").map((part) => part.trim());
    const eq = pair.indexOf("=");
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    const expired = attributes.some((a) => /^max-age=0$/i.test(a)) || value === "";
    if (expired) this.cookies.delete(name);
    else this.cookies.set(name, value);
  }
}

/** What signs a sign-in message: an ethers wallet, as a browser wallet would. */
export interface Wallet {
  address: string;
  signMessage(message: string): Promise<string>;
}

export interface SiweFields {
  domain?: string;
  uri?: string;
  chainId?: number;
  nonce?: string;
  issuedAt?: string;
  expirationTime?: string;
  notBefore?: string;
  scheme?: string;
  /** Sign with this wallet instead of the one named in the message. */
  signer?: Wallet;
}

/** Asks for a nonce and builds the EIP-4361 message the web app would, with `overrides` applied. */
export async function prepareSignIn(browser: Browser, wallet: Wallet, overrides: SiweFields = {}) {
  const nonceResponse = await browser.get("/api/auth/nonce");
  if (nonceResponse.status !== 200) throw new Error(`nonce: ${nonceResponse.status} ${nonceResponse.text}`);
  const issued = nonceResponse.body;
  const message = new SiweMessage({
    domain: overrides.domain ?? issued.domain,
    address: wallet.address,
    statement: issued.statement,
    uri: overrides.uri ?? issued.uri,
    version: "1",
    chainId: overrides.chainId ?? issued.chain_id,
    nonce: overrides.nonce ?? issued.nonce,
    issuedAt: overrides.issuedAt ?? new Date().toISOString(),
    expirationTime: overrides.expirationTime,
    notBefore: overrides.notBefore,
    scheme: overrides.scheme,
  }).prepareMessage();
  const signature = await (overrides.signer ?? wallet).signMessage(message);
  return { message, signature, nonce: issued };
}

/** Signs in (or tries to) the way the web app does. */
export async function signIn(browser: Browser, wallet: Wallet, overrides: SiweFields = {}) {
  const { message, signature } = await prepareSignIn(browser, wallet, overrides);
  return browser.post("/api/auth/verify", { message, signature });
}
