import { lazy, StrictMode, Suspense, useCallback, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { api, setCsrfToken, type Session } from "./api";
import { setSessionAccount } from "./sessionAccount";
import { ModelsPage } from "./pages/ModelsPage";
import "./styles.css";

// Code splitting (docs/web-app.md, "Bundle"): the public Models page is in the first load; the
// signed-in pages and the wallet code (ethers, siwe) load when they are first needed.
const ApiPage = lazy(() => import("./pages/ApiPage").then((m) => ({ default: m.ApiPage })));
const AccountPage = lazy(() => import("./pages/AccountPage").then((m) => ({ default: m.AccountPage })));
const ProviderPage = lazy(() => import("./pages/ProviderPage").then((m) => ({ default: m.ProviderPage })));
const loadWallet = () => import("./wallet");

/** The wallet module's plain words for an error (loads it on first use). */
async function inPlainWords(error: unknown): Promise<string> {
  try {
    return (await loadWallet()).plainError(error);
  } catch {
    return error instanceof Error ? error.message : String(error);
  }
}

/** As wallet.ts's `hasWallet`, without loading it: is there an EIP-1193 wallet in the page? */
function hasWallet(): boolean {
  return typeof window !== "undefined" && !!window.ethereum;
}

const PAGES = [
  { path: "/", title: "Models" },
  { path: "/api-keys", title: "API" },
  { path: "/account", title: "Account" },
  { path: "/provider", title: "Provider" },
] as const;

function usePath(): [string, (path: string) => void] {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const onPop = () => setPath(window.location.pathname);
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);
  const navigate = useCallback((next: string) => {
    window.history.pushState(null, "", next);
    setPath(next);
  }, []);
  return [path, navigate];
}

function App() {
  const [path, navigate] = usePath();
  const [session, setSession] = useState<Session | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // The wallet code checks every transaction against the account signed in.
  useEffect(() => setSessionAccount(session?.signed_in ? session.address : null), [session]);

  useEffect(() => {
    api
      .session()
      .then((s) => {
        setCsrfToken(s.csrf_token);
        setSession(s);
      })
      .catch(async (e) => setError(await inPlainWords(e)));
  }, []);

  const onSignIn = async () => {
    setBusy(true);
    setError(null);
    try {
      const { signIn } = await loadWallet();
      setSession(await signIn());
    } catch (e) {
      setError(await inPlainWords(e));
    } finally {
      setBusy(false);
    }
  };
  const onSignOut = async () => {
    try {
      await api.logout();
    } catch {
      /* already signed out */
    }
    setCsrfToken(null);
    setSession({ signed_in: false, address: null, chain_id: session?.chain_id ?? 0, expires_at: null, csrf_token: null });
  };

  const signedIn = !!session?.signed_in;
  const page = PAGES.find((p) => p.path === path) ?? PAGES[0];
  return (
    <div className="app">
      <header className="topbar">
        <a className="brand" href="/" onClick={(e) => { e.preventDefault(); navigate("/"); }}>
          ShareAI
        </a>
        <nav>
          {PAGES.map((p) => (
            <a
              key={p.path}
              href={p.path}
              className={p.path === page.path ? "active" : ""}
              onClick={(e) => {
                e.preventDefault();
                navigate(p.path);
              }}
            >
              {p.title}
            </a>
          ))}
        </nav>
        <div className="session">
          {signedIn ? (
            <>
              <span className="address" title={session!.address!} data-testid="signed-in-address">
                {short(session!.address!)}
              </span>
              <button className="secondary" onClick={onSignOut}>Sign out</button>
            </>
          ) : (
            <button onClick={onSignIn} disabled={busy || session === null}>
              {busy ? "Waiting for wallet…" : hasWallet() ? "Sign in with Ethereum" : "Sign in (needs a wallet)"}
            </button>
          )}
        </div>
      </header>
      {error && (
        <div className="banner error" role="alert">
          {error} <button className="link" onClick={() => setError(null)}>Dismiss</button>
        </div>
      )}
      <main>
        <Suspense fallback={<p className="muted">Loading…</p>}>
          {page.path === "/" && <ModelsPage />}
          {page.path !== "/" && !signedIn && (
            <section className="card center">
              <h2>Sign in to see your {page.title === "API" ? "API keys" : page.title === "Provider" ? "provider earnings" : "account"}</h2>
              <p className="muted">Your account is your wallet address. Signing in costs nothing and sends no transaction.</p>
              <button onClick={onSignIn} disabled={busy}>Sign in with Ethereum</button>
            </section>
          )}
          {page.path === "/api-keys" && signedIn && <ApiPage />}
          {page.path === "/account" && signedIn && <AccountPage />}
          {page.path === "/provider" && signedIn && <ProviderPage address={session!.address!} />}
        </Suspense>
      </main>
    </div>
  );
}

export function short(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`;
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
