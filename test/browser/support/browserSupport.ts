import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { HDNodeWallet } from "ethers";
import { getBytes } from "ethers";
import { chromium, type BrowserContext, type Locator, type Page } from "playwright-core";
import { LOCAL_ROLES } from "../../../server/main/chain/localAccounts";
import type { LocalNetwork } from "../../../server/main/localNetwork";
import { webAppBuilt } from "../../../server/web/static/staticSite";
import { MockUSDC__factory } from "../../../typechain-types";
import { startTestLocalNetwork, type TestLocalNetwork } from "../../support/testLocalNetwork";

/**
 * What the browser tests share: building the web app when needed, launching headless Debian
 * Chromium, and a test wallet injected as `window.ethereum`.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const SCREENSHOTS = path.resolve(__dirname, "../../../test-output/screenshots");
const REPO = path.resolve(__dirname, "../../..");

/** The gateway serves the app only when it has been built (`npm run build:web`). */
export function ensureWebAppBuilt(): void {
  if (webAppBuilt()) return;
  execFileSync(process.execPath, [path.join(REPO, "node_modules/vite/bin/vite.js"), "build", "--config", "web/vite.config.ts", "--logLevel", "error"], {
    cwd: REPO,
    stdio: "inherit",
  });
}

export async function launchChromium(profileDir: string, downloadsPath?: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    downloadsPath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
    viewport: { width: 1280, height: 900 },
  });
}

/**
 * `window.ethereum` as an EIP-1193 provider whose requests run here, in Node: accounts and
 * signatures from the test wallet, anything else passed to the chain's RPC.
 */
export async function injectWallet(
  context: BrowserContext,
  wallet: HDNodeWallet,
  provider: { send(method: string, params: unknown[]): Promise<unknown> },
): Promise<void> {
  const { chainId } = await wallet.provider!.getNetwork();
  await context.exposeFunction("__testWalletRequest", async (method: string, params: unknown[] = []) => {
    try {
      switch (method) {
        case "eth_requestAccounts":
        case "eth_accounts":
          return { result: [wallet.address.toLowerCase()] };
        case "eth_chainId":
          return { result: `0x${chainId.toString(16)}` };
        case "net_version":
          return { result: chainId.toString() };
        case "personal_sign": {
          const [message] = params as [string, string];
          return { result: await wallet.signMessage(getBytes(message)) };
        }
        case "eth_signTypedData_v4": {
          const [, json] = params as [string, string];
          const { domain, types, message } = JSON.parse(json);
          delete types.EIP712Domain;
          return { result: await wallet.signTypedData(domain, types, message) };
        }
        case "eth_sendTransaction": {
          const [tx] = params as [{ to?: string; data?: string; value?: string; gas?: string }];
          const sent = await wallet.sendTransaction({ to: tx.to, data: tx.data, value: tx.value, gasLimit: tx.gas });
          return { result: sent.hash };
        }
        default:
          return { result: await provider.send(method, params) };
      }
    } catch (error) {
      // Revert data passed on as a real wallet does, so the app can decode custom errors.
      const e = error as { code?: number; message?: string; data?: unknown };
      const data = typeof e.data === "string" ? e.data : undefined;
      return { error: { code: typeof e.code === "number" ? e.code : -32603, message: e.message ?? String(error), data } };
    }
  });
  await context.addInitScript(() => {
    const call = (
      globalThis as unknown as {
        __testWalletRequest: (m: string, p: unknown[]) => Promise<{ result?: unknown; error?: { code: number; message: string; data?: string } }>;
      }
    ).__testWalletRequest;
    (globalThis as unknown as { ethereum: unknown }).ethereum = {
      isTestWallet: true,
      async request({ method, params }: { method: string; params?: unknown[] }) {
        // A test sets `__testWalletReject` to a method name: the next such request is refused, as a user would.
        const state = globalThis as unknown as {
          __testWalletReject?: string;
          __testWalletUnsupported?: string[];
          __testWalletAccount?: string;
        };
        // `__testWalletAccount`: the user switched the wallet to another account (its address is all the page sees).
        if (state.__testWalletAccount && (method === "eth_accounts" || method === "eth_requestAccounts")) {
          return [state.__testWalletAccount];
        }
        if (state.__testWalletReject === method) {
          delete state.__testWalletReject;
          throw Object.assign(new Error("User rejected the request."), { code: 4001 });
        }
        // `__testWalletUnsupported` lists methods this wallet cannot do at all (EIP-1193 4200), as some hardware wallets.
        if (state.__testWalletUnsupported?.includes(method)) {
          throw Object.assign(new Error(`The wallet does not support ${method}.`), { code: 4200 });
        }
        const answer = await call(method, params ?? []);
        if (answer.error) throw Object.assign(new Error(answer.error.message), { code: answer.error.code, data: answer.error.data });
        return answer.result;
      },
      on() {},
      removeListener() {},
    };
  });
}

/** The injected wallet refuses the next `method` request as a user declining it would (4001). */
export async function declineNextWalletRequest(page: Page, method: string): Promise<void> {
  await page.evaluate((m) => {
    (globalThis as unknown as { __testWalletReject?: string }).__testWalletReject = m;
  }, method);
}

/** The injected wallet cannot do `methods` at all (EIP-1193 4200, "unsupported method") until changed again. */
export async function setWalletUnsupportedMethods(page: Page, methods: string[]): Promise<void> {
  await page.evaluate((list) => {
    (globalThis as unknown as { __testWalletUnsupported?: string[] }).__testWalletUnsupported = list;
  }, methods);
}

/** The user switches the injected wallet to `address` (null: back to the test wallet's own account). */
export async function switchWalletAccount(page: Page, address: string | null): Promise<void> {
  await page.evaluate((a) => {
    const state = globalThis as unknown as { __testWalletAccount?: string };
    if (a) state.__testWalletAccount = a;
    else delete state.__testWalletAccount;
  }, address);
}

/** Clicks "Sign in with Ethereum" at `url` and waits until the app shows the signed-in address. */
export async function signInWithWallet(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.getByRole("button", { name: "Sign in with Ethereum" }).first().click();
  await page.getByTestId("signed-in-address").waitFor();
}

/** Waits until `locator`'s `attribute` is `expected` (the app polls the API, so it can take a few seconds). */
export async function waitForAttribute(locator: Locator, attribute: string, expected: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string | null = null;
  while (Date.now() < deadline) {
    last = await locator.getAttribute(attribute);
    if (last === expected) return;
    await new Promise((wake) => setTimeout(wake, 200));
  }
  throw new Error(`${attribute} is ${JSON.stringify(last)}, expected ${JSON.stringify(expected)} within ${timeoutMs} ms`);
}

export interface BrowserSession {
  local: TestLocalNetwork;
  network: LocalNetwork;
  /** The gateway's origin, where the app is served. */
  origin: string;
  wallet: HDNodeWallet;
  context: BrowserContext;
  page: Page;
  stop(): Promise<void>;
}

/**
 * A browser test's whole setup: the web app built, the local network started, Chromium launched
 * with a fresh profile and the local chain's account `walletAccount` injected as its wallet,
 * holding `usdcBase` MockUSDC when given. `stop()` undoes it all.
 */
export async function startBrowserSession(
  name: string,
  options: { walletAccount: number; usdcBase?: bigint; downloads?: boolean },
): Promise<BrowserSession> {
  ensureWebAppBuilt();
  mkdirSync(SCREENSHOTS, { recursive: true });
  const profileDir = mkdtempSync(path.join(os.tmpdir(), "shareai-chromium-"));
  let local: TestLocalNetwork | undefined;
  let context: BrowserContext | undefined;
  const stop = async () => {
    await context?.close();
    await local?.stop();
    rmSync(profileDir, { recursive: true, force: true });
  };
  try {
    local = await startTestLocalNetwork(name);
    const chain = local.network.localChain!;
    const wallet = chain.account(options.walletAccount);
    if (options.usdcBase) {
      // Anyone may mint MockUSDC on the local chain.
      const usdc = MockUSDC__factory.connect(chain.tokenAddress, chain.account(LOCAL_ROLES.deployer));
      await (await usdc.mint(wallet.address, options.usdcBase)).wait();
    }
    context = await launchChromium(profileDir, options.downloads ? path.join(local.dataDir, "downloads") : undefined);
    await injectWallet(context, wallet, chain.provider);
    const page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (error) => console.error("page error:", error));
    return { local, network: local.network, origin: local.origin, wallet, context, page, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
