import type { Key } from "../api";
import { usdcToBase } from "../money";

/** A key's limits as the form holds them: text, an empty field meaning "no limit". */
export interface KeyLimitFields {
  models: string;
  daily: string;
  total: string;
  rpm: string;
  tpm: string;
}

/** What `POST /api/keys` and `PATCH /api/keys/{id}` take for the limits; null lifts one. */
export interface KeyLimits {
  allowed_models: string[] | null;
  daily_spend_cap_base: string | null;
  total_spend_cap_base: string | null;
  requests_per_minute: number | null;
  tokens_per_minute: number | null;
}

export const NO_LIMITS: KeyLimitFields = { models: "", daily: "", total: "", rpm: "", tpm: "" };

export function limitFieldsOf(key: Key): KeyLimitFields {
  return {
    models: key.allowed_models?.join(", ") ?? "",
    daily: key.daily_spend_cap?.usdc ?? "",
    total: key.total_spend_cap?.usdc ?? "",
    rpm: key.requests_per_minute?.toString() ?? "",
    tpm: key.tokens_per_minute?.toString() ?? "",
  };
}

/** The fields as the API takes them; throws an Error in plain words for a value that is not one. */
export function parseKeyLimits(fields: KeyLimitFields): KeyLimits {
  const cap = (text: string, label: string) => {
    if (!text.trim()) return null;
    const base = usdcToBase(text);
    if (base === null) throw new Error(`${label} must be an amount of USDC with at most 6 decimals, like 5 or 0.25.`);
    return base.toString();
  };
  const perMinute = (text: string, label: string) => {
    if (!text.trim()) return null;
    if (!/^\d+$/.test(text.trim()) || Number(text) < 1) throw new Error(`${label} must be a whole number of at least 1.`);
    return Number(text);
  };
  const models = fields.models.split(",").map((m) => m.trim()).filter(Boolean);
  return {
    allowed_models: models.length ? models : null,
    daily_spend_cap_base: cap(fields.daily, "The daily cap"),
    total_spend_cap_base: cap(fields.total, "The total cap"),
    requests_per_minute: perMinute(fields.rpm, "Requests per minute"),
    tokens_per_minute: perMinute(fields.tpm, "Tokens per minute"),
  };
}

/** The limit inputs, for creating a key and for editing one. */
export function KeyLimitInputs({ fields, onChange, testIdPrefix }: { fields: KeyLimitFields; onChange: (fields: KeyLimitFields) => void; testIdPrefix: string }) {
  const input = (name: keyof KeyLimitFields, placeholder: string) => (
    <input
      value={fields[name]}
      onChange={(e) => onChange({ ...fields, [name]: e.target.value })}
      placeholder={placeholder}
      data-testid={`${testIdPrefix}-${name}`}
    />
  );
  return (
    <>
      <div className="row">
        <label className="wide">Allowed models (comma-separated, empty = all){input("models", "all models")}</label>
      </div>
      <div className="row">
        <label>Daily cap (USDC){input("daily", "no cap")}</label>
        <label>Total cap (USDC){input("total", "no cap")}</label>
        <label>Requests / min{input("rpm", "no limit")}</label>
        <label>Tokens / min{input("tpm", "no limit")}</label>
      </div>
    </>
  );
}
