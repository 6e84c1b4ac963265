import { execFileSync } from "node:child_process";
import path from "node:path";
import type { HDNodeWallet } from "ethers";
import { getBytes } from "ethers";
import { chromium, type BrowserContext } from "playwright-core";
import { webAppBuilt } from "../../../server/web/static/staticSite";

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
      const e = error as { code?: number; message?: string };
      return { error: { code: typeof e.code === "number" ? e.code : -32603, message: e.message ?? String(error) } };
    }
  });
  await context.addInitScript(() => {
    const call = (globalThis as unknown as { __testWalletRequest: (m: string, p: unknown[]) => Promise<{ result?: unknown; error?: { code: number; message: string } }> })
      .__testWalletRequest;
    (globalThis as unknown as { ethereum: unknown }).ethereum = {
      isTestWallet: true,
      async request({ method, params }: { method: string; params?: unknown[] }) {
        // A test sets `__testWalletReject` to a method name: the next such request is refused, as a user would.
        const state = globalThis as unknown as { __testWalletReject?: string };
        if (state.__testWalletReject === method) {
          delete state.__testWalletReject;
          throw Object.assign(new Error("User rejected the request."), { code: 4001 });
        }
        const answer = await call(method, params ?? []);
        if (answer.error) throw Object.assign(new Error(answer.error.message), { code: answer.error.code });
        return answer.result;
      },
      on() {},
      removeListener() {},
    };
  });
}
