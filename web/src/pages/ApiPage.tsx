import { useCallback, useEffect, useState } from "react";
import { api, type CreatedKey, type Key } from "../api";
import { Usdc, usdcToBase } from "../money";
import { plainApiError } from "../apiErrors";

export function ApiPage() {
  const [keys, setKeys] = useState<Key[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [dailyCap, setDailyCap] = useState("");
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [copied, setCopied] = useState<string | null>(null);
  const [editing, setEditing] = useState<string | null>(null);

  const load = useCallback(() => {
    api.keys().then((r) => setKeys(r.data)).catch((e) => setError(plainApiError(e)));
  }, []);
  useEffect(load, [load]);

  const create = async (event: React.FormEvent) => {
    event.preventDefault();
    setError(null);
    const cap = dailyCap.trim() ? usdcToBase(dailyCap) : null;
    if (dailyCap.trim() && cap === null) {
      setError("The daily cap must be an amount of USDC with at most 6 decimals, like 5 or 0.25.");
      return;
    }
    try {
      const result = await api.createKey({ name: name.trim(), ...(cap !== null ? { daily_spend_cap_base: cap.toString() } : {}) });
      setCreated(result);
      setName("");
      setDailyCap("");
      load();
    } catch (e) {
      setError(plainApiError(e));
    }
  };

  const revoke = async (id: string) => {
    setConfirming(null);
    try {
      await api.revokeKey(id);
      load();
    } catch (e) {
      setError(plainApiError(e));
    }
  };

  const copy = async (label: string, text: string) => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(label);
    } catch {
      setCopied(null);
      setError("Your browser did not allow copying; select the text and copy it by hand.");
    }
  };

  return (
    <>
      <section className="card">
        <h1>API keys</h1>
        <p className="muted">Use a key with any OpenAI SDK: point its base URL at this gateway.</p>
        <form className="row" onSubmit={create}>
          <label>
            Name
            <input value={name} onChange={(e) => setName(e.target.value)} placeholder="laptop" required maxLength={100} data-testid="key-name" />
          </label>
          <label>
            Daily cap (USDC, optional)
            <input value={dailyCap} onChange={(e) => setDailyCap(e.target.value)} placeholder="no cap" inputMode="decimal" />
          </label>
          <button type="submit" disabled={!name.trim()}>Create key</button>
        </form>
        {error && <p className="error" role="alert">{error}</p>}
      </section>

      {created && (
        <section className="card highlight" data-testid="created-key">
          <h2>Your new key “{created.key.name}”</h2>
          <p><strong>Copy it now: it is shown only once.</strong> ShareAI keeps only a hash of it.</p>
          <div className="secret">
            <code data-testid="secret">{created.secret}</code>
            <button onClick={() => copy("secret", created.secret)}>{copied === "secret" ? "Copied" : "Copy"}</button>
          </div>
          <p className="muted">Base URL: <code>{created.base_url}</code></p>
          <h3>Python (openai)</h3>
          <div className="snippet">
            <pre>{created.snippets.python}</pre>
            <button className="secondary" onClick={() => copy("python", created.snippets.python)}>{copied === "python" ? "Copied" : "Copy"}</button>
          </div>
          <h3>JavaScript (openai)</h3>
          <div className="snippet">
            <pre>{created.snippets.javascript}</pre>
            <button className="secondary" onClick={() => copy("javascript", created.snippets.javascript)}>{copied === "javascript" ? "Copied" : "Copy"}</button>
          </div>
          <button className="link" onClick={() => setCreated(null)}>I have saved it — hide</button>
        </section>
      )}

      <section className="card">
        <h2>Your keys</h2>
        {!keys && <p className="muted">Loading…</p>}
        {keys && keys.length === 0 && <p className="muted">No keys yet. Create one above.</p>}
        {keys && keys.length > 0 && (
          <table data-testid="keys-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Key</th>
                <th>Models</th>
                <th className="num">Daily cap</th>
                <th className="num">Rate limit</th>
                <th>Last used</th>
                <th className="num">Spend today</th>
                <th className="num">Total</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.id} className={k.revoked ? "revoked" : ""}>
                  <td>{k.name}</td>
                  <td><code>{k.prefix}…</code></td>
                  <td>{k.allowed_models ? k.allowed_models.join(", ") : <span className="muted">all</span>}</td>
                  <td className="num">{k.daily_spend_cap ? <Usdc amount={k.daily_spend_cap} /> : <span className="muted">none</span>}</td>
                  <td className="num">{k.requests_per_minute ? `${k.requests_per_minute}/min` : <span className="muted">default</span>}</td>
                  <td>{k.last_used_at ? new Date(k.last_used_at).toLocaleString() : <span className="muted">never</span>}</td>
                  <td className="num"><Usdc amount={k.spend.today} /></td>
                  <td className="num"><Usdc amount={k.spend.total} /></td>
                  <td className="actions">
                    {k.revoked ? (
                      <span className="pill off">revoked</span>
                    ) : confirming === k.id ? (
                      <span className="confirm">
                        Revoke? Apps using it stop working.{" "}
                        <button className="danger" onClick={() => revoke(k.id)}>Yes, revoke</button>{" "}
                        <button className="secondary" onClick={() => setConfirming(null)}>Cancel</button>
                      </span>
                    ) : (
                      <>
                        <button className="secondary" onClick={() => setEditing(editing === k.id ? null : k.id)}>Edit</button>{" "}
                        <button className="secondary" onClick={() => setConfirming(k.id)}>Revoke</button>
                      </>
                    )}
                  </td>
                </tr>
              )).flatMap((row, i) => {
                const k = keys[i];
                return editing === k.id
                  ? [row, <tr key={`${k.id}-edit`}><td colSpan={9}><EditKey apiKey={k} onDone={() => { setEditing(null); load(); }} /></td></tr>]
                  : [row];
              })}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}

/** Edits a key's limits; an empty field lifts that limit (`null`). */
function EditKey({ apiKey, onDone }: { apiKey: Key; onDone: () => void }) {
  const [name, setName] = useState(apiKey.name);
  const [models, setModels] = useState(apiKey.allowed_models?.join(", ") ?? "");
  const [daily, setDaily] = useState(apiKey.daily_spend_cap?.usdc ?? "");
  const [total, setTotal] = useState(apiKey.total_spend_cap?.usdc ?? "");
  const [rpm, setRpm] = useState(apiKey.requests_per_minute?.toString() ?? "");
  const [tpm, setTpm] = useState(apiKey.tokens_per_minute?.toString() ?? "");
  const [error, setError] = useState<string | null>(null);

  const save = async (event: React.FormEvent) => {
    event.preventDefault();
    setError(null);
    const cap = (text: string, label: string) => {
      if (!text.trim()) return null;
      const base = usdcToBase(text);
      if (base === null) throw new Error(`${label} must be an amount of USDC with at most 6 decimals.`);
      return base.toString();
    };
    const perMinute = (text: string, label: string) => {
      if (!text.trim()) return null;
      if (!/^\d+$/.test(text.trim()) || Number(text) < 1) throw new Error(`${label} must be a whole number of at least 1.`);
      return Number(text);
    };
    try {
      const list = models.split(",").map((m) => m.trim()).filter(Boolean);
      await api.updateKey(apiKey.id, {
        name: name.trim(),
        allowed_models: list.length ? list : null,
        daily_spend_cap_base: cap(daily, "The daily cap"),
        total_spend_cap_base: cap(total, "The total cap"),
        requests_per_minute: perMinute(rpm, "Requests per minute"),
        tokens_per_minute: perMinute(tpm, "Tokens per minute"),
      });
      onDone();
    } catch (e) {
      setError(plainApiError(e));
    }
  };

  return (
    <form className="edit-key" onSubmit={save} data-testid="edit-key">
      <div className="row">
        <label>Name<input value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} /></label>
        <label>Allowed models (comma-separated, empty = all)<input value={models} onChange={(e) => setModels(e.target.value)} placeholder="all models" /></label>
      </div>
      <div className="row">
        <label>Daily cap (USDC)<input value={daily} onChange={(e) => setDaily(e.target.value)} placeholder="no cap" data-testid="edit-daily-cap" /></label>
        <label>Total cap (USDC)<input value={total} onChange={(e) => setTotal(e.target.value)} placeholder="no cap" /></label>
        <label>Requests / min<input value={rpm} onChange={(e) => setRpm(e.target.value)} placeholder="default" /></label>
        <label>Tokens / min<input value={tpm} onChange={(e) => setTpm(e.target.value)} placeholder="default" /></label>
      </div>
      <p className="muted small">Changes reach requests within a few seconds. An empty field lifts that limit.</p>
      <button type="submit">Save</button> <button type="button" className="secondary" onClick={onDone}>Cancel</button>
      {error && <p className="error" role="alert">{error}</p>}
    </form>
  );
}
