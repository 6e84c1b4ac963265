import { useEffect, useState } from "react";
import { api, type Model } from "../api";
import { UsdcBase } from "../money";
import { plainApiError } from "../apiErrors";

export function ModelsPage() {
  const [models, setModels] = useState<Model[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.models().then((r) => setModels(r.data)).catch((e) => setError(plainApiError(e)));
  }, []);
  return (
    <section className="card">
      <h1>Models</h1>
      <p className="muted">Prices are per 1M tokens, paid in USDC from your escrow deposit. Hover a price for its exact value in base units.</p>
      {error && <p className="error">{error}</p>}
      {!models && !error && <p className="muted">Loading…</p>}
      {models && models.length === 0 && <p className="muted">No models are enabled on this network yet.</p>}
      {models && models.length > 0 && (
        <table data-testid="models-table">
          <thead>
            <tr>
              <th>Model</th>
              <th className="num">Context</th>
              <th className="num">Input / 1M tokens</th>
              <th className="num">Output / 1M tokens</th>
              <th className="num">Providers online</th>
            </tr>
          </thead>
          <tbody>
            {models.map((m) => (
              <tr key={m.id}>
                <td><code>{m.id}</code></td>
                <td className="num">{m.context_length?.toLocaleString() ?? "—"}</td>
                <td className="num"><UsdcBase base={m.pricing.prompt_per_mtok_base} /></td>
                <td className="num"><UsdcBase base={m.pricing.completion_per_mtok_base} /></td>
                <td className="num">
                  <span className={m.providers_online > 0 ? "pill ok" : "pill off"}>{m.providers_online}</span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
