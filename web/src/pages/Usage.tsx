import { useEffect, useMemo, useState } from "react";
import { api, type Amount, type Key, type UsageRecord } from "../api";
import { Usdc } from "../money";
import { fetchReceipt, verifyInBrowser } from "../receiptCheck";
import { plainError } from "../wallet";

const PAGE_SIZE = 10;

interface DailyPoint {
  date: string;
  cost: Amount;
  requests: number;
}

export function UsageHistory({ refreshKey }: { refreshKey: number }) {
  const [keys, setKeys] = useState<Key[]>([]);
  const [models, setModels] = useState<string[]>([]);
  const [keyId, setKeyId] = useState("");
  const [model, setModel] = useState("");
  const [pages, setPages] = useState<(string | null)[]>([null]);
  const [records, setRecords] = useState<UsageRecord[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [receiptFor, setReceiptFor] = useState<string | null>(null);
  const cursor = pages[pages.length - 1];

  useEffect(() => {
    api.keys().then((r) => setKeys(r.data)).catch(() => setKeys([]));
    api.models().then((r) => setModels(r.data.map((m) => m.id))).catch(() => setModels([]));
  }, []);

  useEffect(() => {
    setError(null);
    api
      .usage({ cursor, limit: PAGE_SIZE, keyId, model })
      .then((page) => {
        setRecords(page.data);
        setNext(page.has_more ? page.next_cursor : null);
      })
      .catch((e) => setError(plainError(e)));
  }, [cursor, keyId, model, refreshKey]);

  const filter = (set: (v: string) => void) => (e: React.ChangeEvent<HTMLSelectElement>) => {
    set(e.target.value);
    setPages([null]);
  };
  const csv = useMemo(() => {
    const params = new URLSearchParams();
    if (keyId) params.set("keyId", keyId);
    if (model) params.set("model", model);
    return `/api/usage.csv${params.size ? `?${params}` : ""}`;
  }, [keyId, model]);

  return (
    <>
      <DailyChart keyId={keyId} model={model} refreshKey={refreshKey} />
      <section className="card">
        <div className="section-head">
          <h2>Usage</h2>
          <div className="row filters">
            <label>
              Key
              <select value={keyId} onChange={filter(setKeyId)} data-testid="filter-key">
                <option value="">All keys</option>
                {keys.map((k) => (
                  <option key={k.id} value={k.id}>{k.name} ({k.prefix}…){k.revoked ? " — revoked" : ""}</option>
                ))}
              </select>
            </label>
            <label>
              Model
              <select value={model} onChange={filter(setModel)} data-testid="filter-model">
                <option value="">All models</option>
                {models.map((m) => <option key={m} value={m}>{m}</option>)}
              </select>
            </label>
            <a className="button secondary" href={csv} download data-testid="csv-link">Export CSV</a>
          </div>
        </div>
        {error && <p className="error">{error}</p>}
        {records && records.length === 0 && <p className="muted">No requests{keyId || model ? " match these filters" : " yet"}.</p>}
        {records && records.length > 0 && (
          <table data-testid="usage-table">
            <thead>
              <tr>
                <th>Time</th>
                <th>Key</th>
                <th>Model</th>
                <th className="num">Tokens in / out</th>
                <th className="num">Cost</th>
                <th>Outcome</th>
                <th>Receipt</th>
              </tr>
            </thead>
            <tbody>
              {records.map((r) => (
                <tr key={r.request_id}>
                  <td>{new Date(r.created_at).toLocaleString()}</td>
                  <td>{r.key?.name ?? <span className="muted">—</span>}</td>
                  <td><code>{r.model}</code></td>
                  <td className="num">{r.prompt_tokens} / {r.completion_tokens}</td>
                  <td className="num"><Usdc amount={r.cost} />{r.estimated && <span className="muted small"> (est.)</span>}</td>
                  <td>{r.outcome}{r.stream ? " · stream" : ""}</td>
                  <td>
                    <button className="link" title={r.request_id} onClick={() => setReceiptFor(receiptFor === r.request_id ? null : r.request_id)}>
                      {receiptFor === r.request_id ? "Hide" : "Receipt"}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {receiptFor && <Receipt requestId={receiptFor} />}
        <div className="pager">
          <button className="secondary" disabled={pages.length <= 1} onClick={() => setPages(pages.slice(0, -1))}>← Newer</button>
          <span className="muted">Page {pages.length}</span>
          <button className="secondary" disabled={!next} onClick={() => next && setPages([...pages, next])}>Older →</button>
        </div>
      </section>
    </>
  );
}

function Receipt({ requestId }: { requestId: string }) {
  const [bundle, setBundle] = useState<Awaited<ReturnType<typeof fetchReceipt>> | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [verdict, setVerdict] = useState<{ ok: boolean; facts: string[]; reason?: string } | null>(null);
  const [verifying, setVerifying] = useState(false);

  useEffect(() => {
    setBundle(null);
    setVerdict(null);
    setError(null);
    fetchReceipt(requestId).then(setBundle).catch((e) => setError(plainError(e)));
  }, [requestId]);

  const verify = async () => {
    if (!bundle) return;
    setVerifying(true);
    setVerdict(null);
    try {
      const result = await verifyInBrowser(bundle.bundle);
      setVerdict(
        result.isValid
          ? { ok: true, facts: result.facts }
          : { ok: false, facts: result.facts, reason: `${result.invalidReason}: ${result.detail}` },
      );
    } catch (e) {
      setError(`Could not read the chain: ${plainError(e)}`);
    } finally {
      setVerifying(false);
    }
  };

  return (
    <div className="receipt" data-testid="receipt">
      <h3>Receipt of <code>{requestId}</code></h3>
      {!bundle && !error && <p className="muted">Loading…</p>}
      {error && <p className="error">{error}</p>}
      {bundle && (
        <>
          <p className="muted small">
            In a voucher of {bundle.bundle.receiptCount} receipt{bundle.bundle.receiptCount === 1 ? "" : "s"} (Merkle proof of{" "}
            {bundle.bundle.proof.length} hash{bundle.bundle.proof.length === 1 ? "" : "es"}), signed by <code>{bundle.bundle.signer}</code>
            {bundle.bundle.settlement ? <>, settled in transaction <code>{bundle.bundle.settlement.txHash}</code></> : ", not settled on chain yet"}.
          </p>
          <button onClick={verify} disabled={verifying} data-testid="verify-receipt">
            {verifying ? "Verifying…" : "Verify on chain"}
          </button>{" "}
          <a
            className="button secondary"
            href={URL.createObjectURL(new Blob([JSON.stringify(bundle.json, null, 2)], { type: "application/json" }))}
            download={`receipt-${requestId}.json`}
          >
            Download bundle
          </a>
          {verdict && (
            <div className={verdict.ok ? "verdict ok-box" : "verdict error-box"} data-testid="verdict">
              <strong>{verdict.ok ? "Verified: this charge is proven on chain." : "Not proven."}</strong>
              {verdict.reason && <p>{verdict.reason}</p>}
              <ul>{verdict.facts.map((f) => <li key={f}>{f}</li>)}</ul>
            </div>
          )}
          <details>
            <summary>Bundle (receipt, proof, voucher)</summary>
            <pre className="json">{JSON.stringify(bundle.json, null, 2)}</pre>
          </details>
        </>
      )}
    </div>
  );
}

function DailyChart({ keyId, model, refreshKey }: { keyId: string; model: string; refreshKey: number }) {
  const [data, setData] = useState<{ total: Amount; data: DailyPoint[] } | null>(null);
  useEffect(() => {
    const params = new URLSearchParams({ days: "30" });
    if (keyId) params.set("keyId", keyId);
    if (model) params.set("model", model);
    fetch(`/api/usage/daily?${params}`, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null))
      .then(setData)
      .catch(() => setData(null));
  }, [keyId, model, refreshKey]);
  if (!data) return null;
  const max = data.data.reduce((m, d) => Math.max(m, Number(d.cost.micros)), 0);
  const width = 720;
  const height = 120;
  const bar = width / Math.max(1, data.data.length);
  return (
    <section className="card">
      <div className="section-head">
        <h2>Spend per day</h2>
        <span className="muted">Last 30 days (UTC): <Usdc amount={data.total} /></span>
      </div>
      <svg className="chart" viewBox={`0 0 ${width} ${height + 18}`} role="img" aria-label="Spend per day" data-testid="daily-chart">
        {data.data.map((d, i) => {
          const h = max > 0 ? Math.max(Number(d.cost.micros) > 0 ? 2 : 0, (Number(d.cost.micros) / max) * height) : 0;
          return (
            <g key={d.date}>
              <title>{`${d.date}: ${d.cost.usdc} USDC (${d.cost.base} base units), ${d.requests} requests`}</title>
              <rect x={i * bar + 1} y={height - h} width={bar - 2} height={h} className="bar" />
              <rect x={i * bar} y={0} width={bar} height={height} fill="transparent" />
            </g>
          );
        })}
        <line x1={0} x2={width} y1={height} y2={height} className="axis" />
        <text x={0} y={height + 14} className="tick">{data.data[0]?.date}</text>
        <text x={width} y={height + 14} className="tick" textAnchor="end">{data.data[data.data.length - 1]?.date}</text>
      </svg>
    </section>
  );
}
