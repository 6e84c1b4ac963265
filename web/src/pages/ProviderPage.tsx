import { Contract } from "ethers";
import { useCallback, useEffect, useState } from "react";
import { api, ApiError, type Provider, type Upstream, type UpstreamChanges, type UpstreamHealth } from "../api";
import { AmountTile, Usdc, UsdcBase } from "../money";
import { connectWallet, plainError, walletTokenBalance } from "../wallet";

type ClaimStep = "signing" | "submitted" | "confirmed";
const CLAIM_STEPS: { step: ClaimStep; label: string }[] = [
  { step: "signing", label: "Confirm in your wallet" },
  { step: "submitted", label: "Submitted" },
  { step: "confirmed", label: "Confirmed" },
];
const ESCROW_CLAIM_ABI = [
  "function claim(address to) returns (uint256)",
  "function earningsOf(address payee) view returns (uint256)",
  "error UsageEscrowZeroAmount()",
  "error UsageEscrowZeroAddress()",
];

/** The Provider page: the signed-in wallet is the payout address. */
export function ProviderPage({ address }: { address: string }) {
  const [provider, setProvider] = useState<Provider | null>(null);
  const [registered, setRegistered] = useState<boolean | null>(null);
  const [chain, setChain] = useState<{ escrow: string | null; token: string | null }>({ escrow: null, token: null });
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const p = await api.provider();
      setProvider(p);
      setRegistered(true);
      return p;
    } catch (e) {
      if (e instanceof ApiError && e.code === "provider_not_registered") setRegistered(false);
      else setError(plainError(e));
      return null;
    }
  }, []);
  useEffect(() => {
    void load();
    api
      .account()
      .then((a) => setChain({ escrow: a.chain.escrow_address, token: a.chain.token_address }))
      .catch(() => undefined);
  }, [load]);

  if (registered === false) return <Register address={address} onRegistered={load} />;
  return (
    <>
      <section className="card">
        <div className="section-head">
          <h1>Provider{provider ? `: ${provider.name}` : ""}</h1>
          <button className="link" onClick={() => void load()}>Refresh</button>
        </div>
        {error && <p className="error" role="alert">{error}</p>}
        {!provider && !error && <p className="muted">Loading…</p>}
        {provider && <Earnings provider={provider} />}
      </section>
      {provider && <Claim provider={provider} escrow={chain.escrow} token={chain.token} onClaimed={load} />}
      {provider && <Upstreams provider={provider} onChanged={load} />}
      {provider && <Vouchers address={provider.payout_address} />}
    </>
  );
}

function Register({ address, onRegistered }: { address: string; onRegistered: () => Promise<unknown> }) {
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      await api.registerProvider(name.trim());
      await onRegistered();
    } catch (e) {
      setError(plainError(e));
    }
  };
  return (
    <section className="card">
      <h1>Become a provider</h1>
      <p className="muted">
        Serve models through your own OpenAI-compatible endpoint and earn 90% of what each request costs. You are paid
        at your wallet address <code>{address}</code>, in USDC, claimable from the escrow.
      </p>
      <form className="row" onSubmit={submit}>
        <label>
          Provider name
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="My GPUs" data-testid="provider-name" />
        </label>
        <button type="submit" disabled={!name.trim()}>Register as a provider</button>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
    </section>
  );
}

function Earnings({ provider }: { provider: Provider }) {
  const s = provider.stats;
  const e = provider.earnings;
  const tokens = BigInt(s.prompt_tokens) + BigInt(s.completion_tokens);
  return (
    <>
      <p className="muted">
        Paid at <code data-testid="payout-address">{provider.payout_address}</code> ·{" "}
        <span data-testid="requests-served">{s.requests.toLocaleString()}</span> requests served ·{" "}
        <span data-testid="tokens-served" title={`${s.prompt_tokens} prompt + ${s.completion_tokens} completion`}>
          {tokens.toLocaleString()}
        </span>{" "}
        tokens · {s.settlement_count} settlement{s.settlement_count === 1 ? "" : "s"}
      </p>
      <div className="tiles" data-testid="provider-earnings">
        <AmountTile label="Unclaimed on chain" hint="Yours in the escrow now; claim it to your wallet" amount={e.unclaimed} testId="unclaimed" primary />
        <AmountTile label="Earned, settled" hint="Your share of everything settled on chain" amount={e.earned} testId="earned" />
        <AmountTile label="Claimed" hint="Already sent to your wallet" amount={e.claimed} testId="claimed" />
        <AmountTile
          label="Pending settlement"
          hint="Usage served but not yet settled on chain (before the 10% network fee)"
          amount={s.pending}
          testId="pending"
        />
      </div>
      <p className="muted small">
        Settled on chain for your requests: <Usdc amount={s.settled} /> (your share <Usdc amount={s.settled_provider_share} />) · Charged to
        payers in total: <Usdc amount={s.usage} />
      </p>
    </>
  );
}

function Claim(props: { provider: Provider; escrow: string | null; token: string | null; onClaimed: () => Promise<Provider | null> }) {
  const [step, setStep] = useState<ClaimStep | null>(null);
  const [txHash, setTxHash] = useState<string | null>(null);
  const [claimed, setClaimed] = useState<bigint | null>(null);
  const [walletBalance, setWalletBalance] = useState<bigint | null>(null);
  const [error, setError] = useState<string | null>(null);
  const unclaimed = BigInt(props.provider.earnings.unclaimed.base.split(".")[0]);

  useEffect(() => {
    if (props.token) walletTokenBalance(props.token).then(setWalletBalance).catch(() => undefined);
  }, [props.token, step]);

  const claim = async () => {
    if (!props.escrow) return;
    setError(null);
    setTxHash(null);
    setClaimed(null);
    try {
      const { signer } = await connectWallet();
      const me = await signer.getAddress();
      if (me.toLowerCase() !== props.provider.payout_address) {
        throw new Error(`Your wallet is on ${me}; the earnings are paid to ${props.provider.payout_address}. Switch accounts in your wallet.`);
      }
      const escrow = new Contract(props.escrow, ESCROW_CLAIM_ABI, signer);
      const owed = (await escrow.earningsOf(me)) as bigint;
      if (owed === 0n) throw new Error("Nothing to claim yet: the escrow holds no earnings for you.");
      setStep("signing");
      const tx = await escrow.claim(me);
      setTxHash(tx.hash);
      setStep("submitted");
      const receipt = await tx.wait();
      if (!receipt || receipt.status !== 1) throw new Error("The claim transaction failed on chain.");
      setClaimed(owed);
      setStep("confirmed");
      // The page's numbers come from the gateway's mirror of the chain: wait for it to catch up.
      for (let i = 0; i < 30; i++) {
        const next = await props.onClaimed();
        if (next && BigInt(next.earnings.unclaimed.base.split(".")[0]) === 0n) break;
        await new Promise((wake) => setTimeout(wake, 1000));
      }
    } catch (e) {
      setStep(null);
      setError(plainError(e));
    }
  };

  const stepIndex = step ? CLAIM_STEPS.findIndex((s) => s.step === step) : -1;
  return (
    <section className="card" data-testid="claim">
      <h2>Claim earnings</h2>
      <p className="muted">
        One transaction: the escrow sends your unclaimed earnings (<Usdc amount={props.provider.earnings.unclaimed} />) to your
        wallet, which holds {walletBalance === null ? "—" : <span data-testid="provider-wallet-balance"><UsdcBase base={walletBalance} /></span>}.
      </p>
      <button onClick={() => void claim()} disabled={!props.escrow || unclaimed === 0n || step === "signing" || step === "submitted"}>
        Claim earnings
      </button>
      {!props.escrow && <p className="muted small">This gateway does not settle on chain, so there is nothing to claim.</p>}
      {step && (
        <ol className="progress" data-testid="claim-progress">
          {CLAIM_STEPS.map((s, i) => (
            <li key={s.step} className={i < stepIndex || step === "confirmed" ? "done" : i === stepIndex ? "current" : ""}>
              {s.label}
            </li>
          ))}
        </ol>
      )}
      {txHash && <p className="muted small">Transaction <code>{txHash}</code></p>}
      {step === "confirmed" && claimed !== null && (
        <p className="ok" data-testid="claim-status">
          Claimed <UsdcBase base={claimed} /> to your wallet.
        </p>
      )}
      {error && <p className="error" role="alert">{error}</p>}
    </section>
  );
}

function Upstreams({ provider, onChanged }: { provider: Provider; onChanged: () => Promise<unknown> }) {
  const [baseUrl, setBaseUrl] = useState("");
  const [apiKey, setApiKey] = useState("");
  const [models, setModels] = useState("");
  const [busy, setBusy] = useState(false);
  /** Live checks made from this page: they also list the models the upstream serves. */
  const [checks, setChecks] = useState<Record<string, UpstreamHealth>>({});
  const [editing, setEditing] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const remember = (upstream: Upstream) => {
    const health = upstream.health;
    if (health) setChecks((c) => ({ ...c, [upstream.id]: health }));
  };
  const add = async (event: React.FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const added = await api.addUpstream({ base_url: baseUrl.trim(), api_key: apiKey || null, models: modelList(models) });
      remember(added);
      setBaseUrl("");
      setApiKey("");
      setModels("");
      await onChanged();
    } catch (e) {
      setError(plainError(e));
    } finally {
      setBusy(false);
    }
  };
  const act = async (action: () => Promise<unknown>) => {
    setError(null);
    try {
      await action();
      await onChanged();
    } catch (e) {
      setError(plainError(e));
    }
  };
  const recheck = (upstream: Upstream) => act(async () => remember(await api.checkUpstream(upstream.id)));
  const toggle = (upstream: Upstream) => act(() => api.setUpstreamEnabled(upstream.id, !upstream.enabled));
  const remove = (upstream: Upstream) =>
    act(async () => {
      await api.removeUpstream(upstream.id);
      setConfirming(null);
    });
  const edited = async (saved: Upstream | null) => {
    setEditing(null);
    if (saved) {
      remember(saved);
      await onChanged();
    }
  };

  return (
    <section className="card">
      <h2>Upstreams</h2>
      <p className="muted small">
        OpenAI-compatible endpoints that serve your models. Each is checked live (<code>GET {"{base URL}"}/models</code>) before it is
        saved, and again when you edit its address, key or models; one that fails is saved disabled until it passes. Gateways
        also check every enabled upstream every few seconds; the last check is shown.
      </p>
      {provider.upstreams.length === 0 ? (
        <p className="muted">No upstreams yet: add one below.</p>
      ) : (
        <table data-testid="upstreams-table">
          <thead>
            <tr><th>Base URL</th><th>Models</th><th>Key</th><th>Enabled</th><th>Health</th><th></th></tr>
          </thead>
          <tbody>
            {provider.upstreams.flatMap((u) => {
              const row = (
                <tr key={u.id} data-upstream-id={u.id}>
                  <td><code>{u.base_url}</code></td>
                  <td>{u.models.map((m) => (m.upstream_name === m.id ? m.id : `${m.id} → ${m.upstream_name}`)).join(", ")}</td>
                  <td>{u.has_api_key ? "stored" : "none"}</td>
                  <td>{u.enabled ? "yes" : "no"}</td>
                  <td data-testid="upstream-health"><Health health={latest(checks[u.id], u.health)} /></td>
                  <td className="actions">
                    {confirming === u.id ? (
                      <span className="confirm">
                        Remove? Requests stop going to it; its usage history stays.{" "}
                        <button className="danger" onClick={() => void remove(u)}>Yes, remove</button>{" "}
                        <button className="secondary" onClick={() => setConfirming(null)}>Cancel</button>
                      </span>
                    ) : (
                      <>
                        <button className="secondary" onClick={() => void recheck(u)}>Check now</button>{" "}
                        <button className="secondary" onClick={() => setEditing(editing === u.id ? null : u.id)}>Edit</button>{" "}
                        <button className="secondary" onClick={() => void toggle(u)}>{u.enabled ? "Disable" : "Enable"}</button>{" "}
                        <button className="secondary" onClick={() => setConfirming(u.id)}>Remove</button>
                      </>
                    )}
                  </td>
                </tr>
              );
              return editing === u.id
                ? [row, <tr key={`${u.id}-edit`}><td colSpan={6}><EditUpstream upstream={u} onDone={edited} /></td></tr>]
                : [row];
            })}
          </tbody>
        </table>
      )}
      <form className="row" onSubmit={add} data-testid="add-upstream">
        <label>
          Base URL
          <input value={baseUrl} onChange={(e) => setBaseUrl(e.target.value)} placeholder="https://my-gpu.example/v1" data-testid="upstream-url" />
        </label>
        <label>
          API key (optional)
          <input value={apiKey} onChange={(e) => setApiKey(e.target.value)} type="password" autoComplete="off" data-testid="upstream-key" />
        </label>
        <label>
          Models (networkId or networkId=upstreamName)
          <input value={models} onChange={(e) => setModels(e.target.value)} placeholder="shareai/llama-3-8b=llama3:8b" data-testid="upstream-models" />
        </label>
        <button type="submit" disabled={busy || !baseUrl.trim() || !models.trim()}>{busy ? "Checking…" : "Check and add"}</button>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
    </section>
  );
}

/** Edits an upstream; only what changed is sent, and the stored key is kept unless replaced or removed. */
function EditUpstream({ upstream, onDone }: { upstream: Upstream; onDone: (saved: Upstream | null) => void }) {
  const initialModels = upstream.models.map((m) => (m.upstream_name === m.id ? m.id : `${m.id}=${m.upstream_name}`)).join(", ");
  const [baseUrl, setBaseUrl] = useState(upstream.base_url);
  const [models, setModels] = useState(initialModels);
  const [apiKey, setApiKey] = useState("");
  const [removeKey, setRemoveKey] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const save = async (event: React.FormEvent) => {
    event.preventDefault();
    const changes: UpstreamChanges = {};
    if (baseUrl.trim() !== upstream.base_url) changes.base_url = baseUrl.trim();
    if (modelList(models).join(",") !== modelList(initialModels).join(",")) changes.models = modelList(models);
    if (apiKey) changes.api_key = apiKey;
    else if (removeKey) changes.api_key = null;
    if (Object.keys(changes).length === 0) return onDone(null);
    setBusy(true);
    setError(null);
    try {
      onDone(await api.updateUpstream(upstream.id, changes));
    } catch (e) {
      setError(plainError(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="edit-key" onSubmit={save} data-testid="edit-upstream">
      <div className="row">
        <label className="wide">
          Base URL
          <input value={baseUrl} onChange={(e) => setBaseUrl(e.target.value)} required data-testid="edit-upstream-url" />
        </label>
        <label>
          Models (networkId or networkId=upstreamName)
          <input value={models} onChange={(e) => setModels(e.target.value)} required data-testid="edit-upstream-models" />
        </label>
      </div>
      <div className="row">
        <label>
          {upstream.has_api_key ? "New API key (empty: keep the stored one)" : "API key (optional)"}
          <input
            value={apiKey}
            onChange={(e) => setApiKey(e.target.value)}
            type="password"
            autoComplete="off"
            disabled={removeKey}
            data-testid="edit-upstream-key"
          />
        </label>
        {upstream.has_api_key && (
          <label style={{ flexDirection: "row", alignItems: "center" }}>
            <input type="checkbox" checked={removeKey} onChange={(e) => setRemoveKey(e.target.checked)} disabled={!!apiKey} />
            Remove the stored key
          </label>
        )}
      </div>
      <p className="muted small">
        A new address, key or model list is checked live before it is saved; if the check fails the upstream is saved disabled.
        Gateways route by the change within seconds; requests already running finish where they started.
      </p>
      <button type="submit" disabled={busy}>{busy ? "Checking…" : "Check and save"}</button>{" "}
      <button type="button" className="secondary" onClick={() => onDone(null)}>Cancel</button>
      {error && <p className="error" role="alert">{error}</p>}
    </form>
  );
}

/** "a/b, c/d=local" → ["a/b", "c/d=local"]. */
function modelList(text: string): string[] {
  return text.split(/[\s,]+/).map((m) => m.trim()).filter(Boolean);
}

/** The newer of a live check made from this page and the stored last check. */
function latest(live: UpstreamHealth | undefined, stored: UpstreamHealth | null): UpstreamHealth | null {
  if (!live) return stored;
  if (!stored) return live;
  return Date.parse(live.checked_at) >= Date.parse(stored.checked_at) ? live : stored;
}

function Health({ health }: { health: UpstreamHealth | null }) {
  if (!health) return <span className="muted">not checked yet</span>;
  const when = `Checked ${new Date(health.checked_at).toLocaleString()}`;
  return health.ok ? (
    <span className="ok" title={health.models_listed ? `${when}; lists ${health.models_listed.join(", ")}` : when}>
      healthy ({health.latency_ms} ms)
    </span>
  ) : (
    <span className="error" title={when}>{health.error ?? "unhealthy"}</span>
  );
}

function Vouchers({ address }: { address: string }) {
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<number | null>(null);
  const download = async () => {
    setError(null);
    try {
      const response = await fetch(`/api/providers/${address}/vouchers`, { headers: { accept: "application/json" } });
      if (!response.ok) throw new Error(`The gateway answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
      const text = await response.text();
      const vouchers = (JSON.parse(text) as { vouchers?: unknown[] }).vouchers;
      const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
      const link = document.createElement("a");
      link.href = url;
      link.download = `shareai-vouchers-${address}.json`;
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setSaved(Array.isArray(vouchers) ? vouchers.length : 0);
    } catch (e) {
      setError(plainError(e));
    }
  };
  return (
    <section className="card">
      <h2>Signed vouchers</h2>
      <p className="muted">
        The latest voucher signed for you per payer. With this file you can settle on chain yourself, without the gateway
        (<code>shareai provider settle</code>, docs/receipts.md).
      </p>
      <button className="secondary" onClick={() => void download()}>Download signed vouchers</button>
      {saved !== null && <p className="muted small" data-testid="vouchers-saved">Saved {saved} voucher{saved === 1 ? "" : "s"}.</p>}
      {error && <p className="error" role="alert">{error}</p>}
    </section>
  );
}
