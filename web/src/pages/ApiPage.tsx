import { useCallback, useEffect, useState } from "react";
import { api, type CreatedKey, type Key } from "../api";
import { Usdc } from "../money";
import { plainApiError } from "../apiErrors";
import { KeyLimitInputs, limitFieldsOf, NO_LIMITS, parseKeyLimits, type KeyLimitFields } from "./keyLimits";

export function ApiPage() {
  const [keys, setKeys] = useState<Key[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [limits, setLimits] = useState<KeyLimitFields>(NO_LIMITS);
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
    try {
      const result = await api.createKey({ name: name.trim(), ...parseKeyLimits(limits) });
      setCreated(result);
      setName("");
      setLimits(NO_LIMITS);
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
        <form onSubmit={create}>
          <div className="row">
            <label>
              Name
              <input value={name} onChange={(e) => setName(e.target.value)} placeholder="laptop" required maxLength={100} data-testid="key-name" />
            </label>
            <button type="submit" disabled={!name.trim()}>Create key</button>
          </div>
          <details data-testid="new-key-limits">
            <summary>Limits (optional): models, spend caps, rate limits</summary>
            <KeyLimitInputs fields={limits} onChange={setLimits} testIdPrefix="new-key" />
          </details>
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

/** Edits a key's name and limits; an empty field lifts that limit (`null`). */
function EditKey({ apiKey, onDone }: { apiKey: Key; onDone: () => void }) {
  const [name, setName] = useState(apiKey.name);
  const [limits, setLimits] = useState<KeyLimitFields>(limitFieldsOf(apiKey));
  const [error, setError] = useState<string | null>(null);

  const save = async (event: React.FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      await api.updateKey(apiKey.id, { name: name.trim(), ...parseKeyLimits(limits) });
      onDone();
    } catch (e) {
      setError(plainApiError(e));
    }
  };

  return (
    <form className="edit-key" onSubmit={save} data-testid="edit-key">
      <div className="row">
        <label>Name<input value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} /></label>
      </div>
      <KeyLimitInputs fields={limits} onChange={setLimits} testIdPrefix="edit" />
      <p className="muted small">Changes reach requests within a few seconds. An empty field lifts that limit.</p>
      <button type="submit">Save</button> <button type="button" className="secondary" onClick={onDone}>Cancel</button>
      {error && <p className="error" role="alert">{error}</p>}
    </form>
  );
}
