import type { PublicSite } from "../publicSite";
import { nullable, ref, type Json } from "./openApiJson";

const keySettingsProperties: Json = {
  name: { type: "string", minLength: 1, maxLength: 100 },
  allowed_models: nullable({
    type: "array",
    items: { type: "string" },
    minItems: 1,
    maxItems: 100,
    description: "null: every model.",
  }),
  daily_spend_cap_base: nullable({
    type: "string",
    pattern: "^\\d{1,30}$",
    description: "USDC base units per UTC day; null: no cap.",
  }),
  total_spend_cap_base: nullable({
    type: "string",
    pattern: "^\\d{1,30}$",
    description: "USDC base units over the key's life; null: no cap.",
  }),
  requests_per_minute: nullable({ type: "integer", minimum: 1, maximum: 2147483647 }),
  tokens_per_minute: nullable({ type: "integer", minimum: 1, maximum: 2147483647 }),
};

/** `components.schemas`: the bodies the web API reads and writes. */
export function openApiSchemas(site: PublicSite): Json {
  return {
    Error: {
      type: "object",
      required: ["error"],
      properties: {
        error: {
          type: "object",
          required: ["message", "type", "param", "code"],
          properties: {
            message: { type: "string" },
            type: { type: "string" },
            param: { type: ["string", "null"] },
            code: { type: "string" },
          },
        },
      },
    },
    Amount: {
      type: "object",
      description:
        "An exact amount. `micros`: integer micro base units (1e-12 USDC); `base`: USDC base units (1e-6 USDC), integer on-chain, up to 6 decimals when metered; `usdc`: USDC.",
      required: ["micros", "base", "usdc"],
      properties: {
        micros: { type: "string", pattern: "^\\d+$", examples: ["1500000000000"] },
        base: { type: "string", pattern: "^\\d+(\\.\\d{1,6})?$", examples: ["1500000"] },
        usdc: { type: "string", pattern: "^\\d+(\\.\\d{1,12})?$", examples: ["1.5"] },
      },
    },
    Nonce: {
      type: "object",
      description: "What the EIP-4361 message must contain. Sets the CSRF cookie the nonce is bound to.",
      required: [
        "nonce",
        "domain",
        "uri",
        "chain_id",
        "version",
        "statement",
        "issued_at",
        "expiration_time",
        "csrf_token",
      ],
      properties: {
        nonce: { type: "string" },
        domain: { type: "string", examples: [site.host] },
        uri: { type: "string", examples: [site.origin] },
        chain_id: { type: "integer" },
        version: { const: "1" },
        statement: { type: "string" },
        issued_at: { type: "string", format: "date-time" },
        expiration_time: { type: "string", format: "date-time", description: "The nonce is refused after this." },
        csrf_token: { type: "string", description: "Echo it as `x-csrf-token` on POST /api/auth/verify." },
      },
    },
    SignIn: {
      type: "object",
      required: ["message", "signature"],
      additionalProperties: false,
      properties: {
        message: { type: "string", maxLength: 4096, description: "The EIP-4361 message, exactly as signed." },
        signature: {
          type: "string",
          pattern: "^0x[0-9a-fA-F]+$",
          description: "personal_sign (EIP-191) of the message.",
        },
      },
    },
    Session: {
      type: "object",
      required: ["signed_in", "address", "chain_id", "expires_at", "csrf_token"],
      properties: {
        signed_in: { type: "boolean" },
        address: { type: ["string", "null"], description: "The account: the wallet address, lower-case." },
        chain_id: { type: "integer" },
        expires_at: { type: ["string", "null"], format: "date-time" },
        csrf_token: { type: ["string", "null"], description: "The token to echo as `x-csrf-token`." },
      },
    },
    Key: {
      type: "object",
      properties: {
        id: { type: "string", format: "uuid" },
        name: { type: "string" },
        prefix: { type: "string", examples: ["sk-shareai-AbCd"] },
        allowed_models: nullable({ type: "array", items: { type: "string" } }),
        daily_spend_cap: nullable(ref("Amount")),
        total_spend_cap: nullable(ref("Amount")),
        requests_per_minute: { type: ["integer", "null"] },
        tokens_per_minute: { type: ["integer", "null"] },
        created_at: { type: "string", format: "date-time" },
        last_used_at: {
          type: ["string", "null"],
          format: "date-time",
          description: "Written within about a minute of use.",
        },
        revoked: { type: "boolean" },
        revoked_at: { type: ["string", "null"], format: "date-time" },
        spend: {
          type: "object",
          properties: { today: ref("Amount"), total: ref("Amount"), held: ref("Amount") },
          description: "`today` is the current UTC day; `held` is the worst case of its requests in flight.",
        },
      },
    },
    KeyCreate: {
      type: "object",
      required: ["name"],
      additionalProperties: false,
      properties: keySettingsProperties,
    },
    KeyUpdate: {
      type: "object",
      minProperties: 1,
      additionalProperties: false,
      properties: keySettingsProperties,
      description: "Fields present change; absent ones stay; null lifts a limit.",
    },
    KeyCreated: {
      type: "object",
      properties: {
        key: ref("Key"),
        secret: { type: "string", description: "The key itself: shown this once, stored nowhere." },
        base_url: { type: "string", examples: [site.apiBaseUrl] },
        snippets: {
          type: "object",
          properties: { python: { type: "string" }, javascript: { type: "string" }, curl: { type: "string" } },
        },
      },
    },
    Account: {
      type: "object",
      properties: {
        address: { type: "string" },
        balance: {
          type: "object",
          properties: {
            available: {
              ...ref("Amount"),
              description: "Spendable: on-chain available − unsettled − held, never below 0.",
            },
            held: ref("Amount"),
            unsettled: ref("Amount"),
            thawing: ref("Amount"),
            thaw_ends_at: { type: ["string", "null"], format: "date-time" },
            onchain_available: ref("Amount"),
            updated_at: { type: ["string", "null"], format: "date-time" },
          },
        },
        chain: {
          type: "object",
          properties: {
            chain_id: { type: "integer" },
            escrow_address: { type: ["string", "null"] },
            token_address: { type: ["string", "null"] },
          },
        },
      },
    },
    UsageRecord: {
      type: "object",
      properties: {
        request_id: { type: "string" },
        created_at: { type: "string", format: "date-time" },
        key: {
          type: "object",
          properties: {
            id: { type: "string" },
            name: { type: ["string", "null"] },
            prefix: { type: ["string", "null"] },
          },
        },
        model: { type: "string" },
        provider_address: { type: "string" },
        prompt_tokens: { type: "integer" },
        completion_tokens: { type: "integer" },
        cached_prompt_tokens: { type: "integer" },
        reasoning_tokens: { type: "integer" },
        cost: ref("Amount"),
        estimated: { type: "boolean" },
        outcome: { enum: ["completed", "client_disconnected", "upstream_error"] },
        stream: { type: "boolean" },
        latency_ms: { type: "integer" },
      },
    },
    UsagePage: {
      type: "object",
      properties: {
        object: { const: "list" },
        data: { type: "array", items: ref("UsageRecord") },
        has_more: { type: "boolean" },
        next_cursor: { type: ["string", "null"] },
      },
    },
    DailyUsage: {
      type: "object",
      properties: {
        object: { const: "list" },
        days: { type: "integer" },
        total: ref("Amount"),
        data: {
          type: "array",
          items: {
            type: "object",
            properties: {
              date: { type: "string", format: "date" },
              cost: ref("Amount"),
              requests: { type: "integer" },
              prompt_tokens: { type: "integer" },
              completion_tokens: { type: "integer" },
            },
          },
        },
      },
    },
    Model: {
      type: "object",
      properties: {
        id: { type: "string" },
        object: { const: "model" },
        created: { type: "integer" },
        owned_by: { type: "string" },
        context_length: { type: "integer" },
        max_output_tokens: { type: "integer" },
        pricing: {
          type: "object",
          properties: {
            prompt_per_mtok_base: { type: "string" },
            completion_per_mtok_base: { type: "string" },
            prompt_per_mtok_usdc: { type: "string" },
            completion_per_mtok_usdc: { type: "string" },
          },
        },
        providers_online: {
          type: "integer",
          description:
            "Providers with an enabled upstream serving the model whose last stored health check (by any gateway instance, within three health-check intervals) found it up.",
        },
        upstreams_online: { type: "integer", description: "Upstreams serving the model that count as online, as for providers_online." },
      },
    },
  };
}
