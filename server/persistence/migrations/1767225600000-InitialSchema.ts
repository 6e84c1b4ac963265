import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The gateway's first schema. Units are in the column names: `…_base` is USDC
 * base units (1e-6 USDC), `…_micros` is micro base units (1e-12 USDC); both are
 * `numeric(78,0)`, exact integers wide enough for any uint256.
 *
 * `holds` and `usage_records` carry no foreign keys on purpose: they are written
 * on every request, and a foreign-key check takes a KEY SHARE row lock (a WAL
 * record and, under concurrency, a multixact) on the parent account and key rows.
 * The ledger's statements only insert them joined with the existing, locked
 * balance and key rows, which is the same guarantee without the lock traffic.
 */
export class InitialSchema1767225600000 implements MigrationInterface {
  name = "InitialSchema1767225600000";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE accounts (
        address text PRIMARY KEY,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT accounts_address_format CHECK (address ~ '^0x[0-9a-f]{40}$')
      )`);

    // One row per account, updated by every reserve and commit: the lock that
    // serialises an account's spending across every gateway instance.
    await queryRunner.query(`
      CREATE TABLE account_balances (
        account text PRIMARY KEY,
        onchain_available_base numeric(78,0) NOT NULL DEFAULT 0,
        onchain_thawing_base numeric(78,0) NOT NULL DEFAULT 0,
        unsettled_micros numeric(78,0) NOT NULL DEFAULT 0,
        held_micros numeric(78,0) NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT account_balances_account_fk FOREIGN KEY (account) REFERENCES accounts (address),
        CONSTRAINT account_balances_non_negative CHECK (
          onchain_available_base >= 0 AND onchain_thawing_base >= 0
          AND unsettled_micros >= 0 AND held_micros >= 0)
      )`);

    await queryRunner.query(`
      CREATE TABLE api_keys (
        id uuid PRIMARY KEY,
        account text NOT NULL,
        name text NOT NULL,
        secret_sha256 text NOT NULL,
        prefix text NOT NULL,
        allowed_models text[],
        daily_spend_cap_base numeric(78,0),
        total_spend_cap_base numeric(78,0),
        requests_per_minute integer,
        tokens_per_minute integer,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz,
        revoked_at timestamptz,
        CONSTRAINT api_keys_account_fk FOREIGN KEY (account) REFERENCES accounts (address),
        CONSTRAINT api_keys_secret_sha256_unique UNIQUE (secret_sha256),
        CONSTRAINT api_keys_secret_sha256_format CHECK (secret_sha256 ~ '^[0-9a-f]{64}$'),
        CONSTRAINT api_keys_limits_non_negative CHECK (
          daily_spend_cap_base >= 0 AND total_spend_cap_base >= 0
          AND requests_per_minute > 0 AND tokens_per_minute > 0)
      )`);
    await queryRunner.query(`CREATE INDEX api_keys_account_idx ON api_keys (account)`);

    // Kept apart from api_keys so that the per-request counter updates do not
    // churn the row that authentication reads. `spend_day` is the UTC day that
    // `day_spent_micros` counts; an older day reads as zero.
    await queryRunner.query(`
      CREATE TABLE api_key_spend (
        key_id uuid PRIMARY KEY,
        held_micros numeric(78,0) NOT NULL DEFAULT 0,
        total_spent_micros numeric(78,0) NOT NULL DEFAULT 0,
        spend_day date,
        day_spent_micros numeric(78,0) NOT NULL DEFAULT 0,
        CONSTRAINT api_key_spend_key_fk FOREIGN KEY (key_id) REFERENCES api_keys (id),
        CONSTRAINT api_key_spend_non_negative CHECK (
          held_micros >= 0 AND total_spent_micros >= 0 AND day_spent_micros >= 0)
      )`);

    await queryRunner.query(`
      CREATE TABLE models (
        id text PRIMARY KEY,
        owned_by text NOT NULL,
        created bigint NOT NULL,
        context_length integer NOT NULL,
        max_output_tokens integer NOT NULL,
        prompt_rate_per_mtok numeric(78,0) NOT NULL,
        completion_rate_per_mtok numeric(78,0) NOT NULL,
        enabled boolean NOT NULL DEFAULT true,
        CONSTRAINT models_limits_valid CHECK (
          context_length > 0 AND max_output_tokens > 0
          AND prompt_rate_per_mtok >= 0 AND completion_rate_per_mtok >= 0)
      )`);

    await queryRunner.query(`
      CREATE TABLE providers (
        id uuid PRIMARY KEY,
        payout_address text NOT NULL,
        name text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT providers_payout_address_unique UNIQUE (payout_address),
        CONSTRAINT providers_payout_address_format CHECK (payout_address ~ '^0x[0-9a-f]{40}$')
      )`);

    await queryRunner.query(`
      CREATE TABLE upstreams (
        id uuid PRIMARY KEY,
        provider_id uuid NOT NULL,
        base_url text NOT NULL,
        api_key_ciphertext bytea,
        enabled boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT upstreams_provider_fk FOREIGN KEY (provider_id) REFERENCES providers (id) ON DELETE CASCADE
      )`);
    await queryRunner.query(`CREATE INDEX upstreams_provider_idx ON upstreams (provider_id)`);

    // Which network models an upstream serves, and under which name it knows each.
    await queryRunner.query(`
      CREATE TABLE upstream_models (
        upstream_id uuid NOT NULL,
        model_id text NOT NULL,
        upstream_model text NOT NULL,
        PRIMARY KEY (upstream_id, model_id),
        CONSTRAINT upstream_models_upstream_fk FOREIGN KEY (upstream_id) REFERENCES upstreams (id) ON DELETE CASCADE,
        CONSTRAINT upstream_models_model_fk FOREIGN KEY (model_id) REFERENCES models (id)
      )`);
    await queryRunner.query(`CREATE INDEX upstream_models_model_idx ON upstream_models (model_id)`);

    await queryRunner.query(`
      CREATE TABLE holds (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        request_id text NOT NULL,
        account text NOT NULL,
        key_id uuid NOT NULL,
        model_id text NOT NULL,
        amount_micros numeric(78,0) NOT NULL,
        expires_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL,
        CONSTRAINT holds_request_id_unique UNIQUE (request_id),
        CONSTRAINT holds_amount_non_negative CHECK (amount_micros >= 0)
      )`);
    await queryRunner.query(`CREATE INDEX holds_expires_at_idx ON holds (expires_at)`);

    // The request id is the natural key: a usage record is written once however
    // many times its commit is retried.
    await queryRunner.query(`
      CREATE TABLE usage_records (
        request_id text PRIMARY KEY,
        account text NOT NULL,
        key_id uuid NOT NULL,
        model_id text NOT NULL,
        provider_address text NOT NULL,
        upstream_id uuid NOT NULL,
        prompt_tokens integer NOT NULL,
        completion_tokens integer NOT NULL,
        cached_prompt_tokens integer NOT NULL,
        reasoning_tokens integer NOT NULL,
        cost_micros numeric(78,0) NOT NULL,
        estimated boolean NOT NULL,
        outcome text NOT NULL,
        stream boolean NOT NULL,
        latency_ms integer NOT NULL,
        created_at timestamptz NOT NULL,
        CONSTRAINT usage_records_counts_non_negative CHECK (
          prompt_tokens >= 0 AND completion_tokens >= 0 AND cached_prompt_tokens >= 0
          AND reasoning_tokens >= 0 AND cost_micros >= 0 AND latency_ms >= 0),
        CONSTRAINT usage_records_outcome_known CHECK (
          outcome IN ('completed', 'client_disconnected', 'upstream_error'))
      )`);
    await queryRunner.query(`CREATE INDEX usage_records_key_history_idx ON usage_records (key_id, created_at)`);
    await queryRunner.query(`CREATE INDEX usage_records_account_history_idx ON usage_records (account, created_at)`);
    // Settlement sums usage per (payer, provider) pair.
    await queryRunner.query(
      `CREATE INDEX usage_records_settlement_idx ON usage_records (account, provider_address, created_at)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of [
      "usage_records",
      "holds",
      "upstream_models",
      "upstreams",
      "providers",
      "models",
      "api_key_spend",
      "api_keys",
      "account_balances",
      "accounts",
    ]) {
      await queryRunner.query(`DROP TABLE ${table}`);
    }
  }
}
