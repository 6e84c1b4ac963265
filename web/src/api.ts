/** The gateway's JSON API under /api (docs/web-api.md). */

export interface Amount {
  micros: string;
  base: string;
  usdc: string;
}

export interface Session {
  signed_in: boolean;
  address: string | null;
  chain_id: number;
  expires_at: string | null;
  csrf_token: string | null;
}

export interface Nonce {
  nonce: string;
  domain: string;
  uri: string;
  chain_id: number;
  version: string;
  statement: string;
  issued_at: string;
  expiration_time: string;
  csrf_token: string;
}

export interface Model {
  id: string;
  context_length?: number;
  pricing: {
    prompt_per_mtok_base: string;
    completion_per_mtok_base: string;
    prompt_per_mtok_usdc: string;
    completion_per_mtok_usdc: string;
  };
  providers_online: number;
  upstreams_online: number;
}

export interface Key {
  id: string;
  name: string;
  prefix: string;
  allowed_models: string[] | null;
  daily_spend_cap: Amount | null;
  total_spend_cap: Amount | null;
  requests_per_minute: number | null;
  tokens_per_minute: number | null;
  created_at: string;
  last_used_at: string | null;
  revoked: boolean;
  revoked_at: string | null;
  spend: { today: Amount; total: Amount; held: Amount };
}

export interface CreatedKey {
  key: Key;
  secret: string;
  base_url: string;
  snippets: { python: string; javascript: string; curl: string };
}

export interface Account {
  address: string;
  balance: {
    available: Amount;
    held: Amount;
    unsettled: Amount;
    thawing: Amount;
    thaw_ends_at: string | null;
    onchain_available: Amount;
    updated_at: string;
  };
  chain: { chain_id: number; escrow_address: string | null; token_address: string | null };
}

export interface UsageRecord {
  request_id: string;
  created_at: string;
  key: { id: string; name: string; prefix: string } | null;
  model: string;
  provider_address: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  cost: Amount;
  estimated: boolean;
  outcome: string;
  stream: boolean;
  latency_ms: number | null;
}

/** The last health check (stored, from the gateway's periodic check or a live one). */
export interface UpstreamHealth {
  ok: boolean;
  checked_at: string;
  status: number | null;
  latency_ms: number;
  /** Only in the answer of a live check (add, Check now, an edit of URL, key or models). */
  models_listed?: string[];
  missing_models?: string[];
  error: string | null;
}

/** An edit: a field left out stays as it is; `api_key: null` deletes the stored key. */
export type UpstreamChanges = Partial<{ base_url: string; api_key: string | null; models: string[]; enabled: boolean }>;

export interface Upstream {
  id: string;
  base_url: string;
  has_api_key: boolean;
  enabled: boolean;
  models: { id: string; upstream_name: string }[];
  created_at: string;
  health: UpstreamHealth | null;
}

export interface Provider {
  id: string;
  name: string;
  payout_address: string;
  created_at: string;
  upstreams: Upstream[];
  stats: {
    requests: number;
    prompt_tokens: string;
    completion_tokens: string;
    usage: Amount;
    pending: Amount;
    settled: Amount;
    settled_provider_share: Amount;
    settlement_count: number;
  };
  earnings: { earned: Amount; claimed: Amount; unclaimed: Amount };
}

export interface Page<T> {
  object: "list";
  data: T[];
  has_more: boolean;
  next_cursor: string | null;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | null,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["x-csrf-token"] = csrfToken;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  if (!response.ok) {
    const error = (json as { error?: { message?: string; code?: string } } | null)?.error;
    throw new ApiError(response.status, error?.code ?? null, error?.message ?? `${response.status} ${response.statusText}`);
  }
  return json as T;
}

export const api = {
  session: () => call<Session>("GET", "/api/auth/session"),
  nonce: () => call<Nonce>("GET", "/api/auth/nonce"),
  verify: (message: string, signature: string) => call<Session>("POST", "/api/auth/verify", { message, signature }),
  logout: () => call<void>("POST", "/api/auth/logout"),
  models: () => call<{ data: Model[] }>("GET", "/api/models"),
  account: () => call<Account>("GET", "/api/account"),
  keys: () => call<{ data: Key[] }>("GET", "/api/keys"),
  createKey: (
    input: { name: string } & Partial<{
      allowed_models: string[] | null;
      daily_spend_cap_base: string | null;
      total_spend_cap_base: string | null;
      requests_per_minute: number | null;
      tokens_per_minute: number | null;
    }>,
  ) => call<CreatedKey>("POST", "/api/keys", input),
  updateKey: (
    id: string,
    input: Partial<{
      name: string;
      allowed_models: string[] | null;
      daily_spend_cap_base: string | null;
      total_spend_cap_base: string | null;
      requests_per_minute: number | null;
      tokens_per_minute: number | null;
    }>,
  ) => call<Key>("PATCH", `/api/keys/${encodeURIComponent(id)}`, input),
  revokeKey: (id: string) => call<unknown>("DELETE", `/api/keys/${encodeURIComponent(id)}`),
  provider: () => call<Provider>("GET", "/api/provider"),
  registerProvider: (name: string) => call<Provider>("POST", "/api/provider", { name }),
  addUpstream: (input: { base_url: string; api_key?: string | null; models: string[] }) =>
    call<Upstream>("POST", "/api/provider/upstreams", input),
  checkUpstream: (id: string) => call<Upstream>("POST", `/api/provider/upstreams/${encodeURIComponent(id)}/check`, {}),
  setUpstreamEnabled: (id: string, enabled: boolean) =>
    call<Upstream>("PATCH", `/api/provider/upstreams/${encodeURIComponent(id)}`, { enabled }),
  updateUpstream: (id: string, changes: UpstreamChanges) =>
    call<Upstream>("PATCH", `/api/provider/upstreams/${encodeURIComponent(id)}`, changes),
  removeUpstream: (id: string) => call<void>("DELETE", `/api/provider/upstreams/${encodeURIComponent(id)}`),
  usage: (query: { cursor?: string | null; limit?: number; keyId?: string; model?: string }) => {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) if (value) params.set(name, String(value));
    return call<Page<UsageRecord>>("GET", `/api/usage?${params}`);
  },
};
