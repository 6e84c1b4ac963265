import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * What the chain watcher keeps: where it is on the chain (`chain_cursor`,
 * `chain_blocks`), every escrow event it applied (`chain_events`, one row per
 * log), and what follows from them (`chain_settlements`,
 * `chain_pair_settlements`, `chain_payer_balances`, `chain_earnings`). The
 * derived tables can always be rebuilt from `chain_events`; a rollback deletes
 * events and rebuilds what they touched. Money is `numeric(78,0)` base units,
 * as in the ledger. See docs/chain-watcher.md.
 *
 * No foreign key points at `accounts`: payees and providers need not be
 * accounts, and the watcher creates a payer's account itself before writing
 * its balance.
 */
export class ChainWatcher1767312000000 implements MigrationInterface {
  name = "ChainWatcher1767312000000";

  async up(queryRunner: QueryRunner): Promise<void> {
    // One row: a database mirrors one escrow on one chain. `block_number` is the last block
    // applied (deployment_block - 1, hash null, before the first).
    await queryRunner.query(`
      CREATE TABLE chain_cursor (
        singleton boolean PRIMARY KEY DEFAULT true,
        chain_id bigint NOT NULL,
        escrow text NOT NULL,
        deployment_block bigint NOT NULL,
        block_number bigint NOT NULL,
        block_hash text,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT chain_cursor_singleton CHECK (singleton),
        CONSTRAINT chain_cursor_escrow_format CHECK (escrow ~ '^0x[0-9a-f]{40}$'),
        CONSTRAINT chain_cursor_block_valid CHECK (
          deployment_block >= 0 AND block_number >= deployment_block - 1
          AND (block_hash IS NULL) = (block_number = deployment_block - 1))
      )`);

    // Blocks the watcher has applied and may have to recognise again: every block with an
    // event and the last block of every tick, pruned to the reorganisation depth it supports.
    await queryRunner.query(`
      CREATE TABLE chain_blocks (
        block_number bigint PRIMARY KEY,
        block_hash text NOT NULL
      )`);

    // `payer`: whose escrow balance the event changes; `payee`: whose earnings a Claimed drew.
    await queryRunner.query(`
      CREATE TABLE chain_events (
        tx_hash text NOT NULL,
        log_index integer NOT NULL,
        block_number bigint NOT NULL,
        block_hash text NOT NULL,
        name text NOT NULL,
        args jsonb NOT NULL,
        payer text,
        payee text,
        applied_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT chain_events_pkey PRIMARY KEY (tx_hash, log_index)
      )`);
    await queryRunner.query(`CREATE INDEX chain_events_block_idx ON chain_events (block_number, log_index)`);
    await queryRunner.query(
      `CREATE INDEX chain_events_payer_idx ON chain_events (payer, block_number, log_index) WHERE payer IS NOT NULL`,
    );
    await queryRunner.query(`CREATE INDEX chain_events_payee_idx ON chain_events (payee) WHERE payee IS NOT NULL`);

    // One row per Settled event. `treasury` is who the fee accrued to (the treasury at that
    // moment); `ledger_micros` is what the event took off account_balances.unsettled_micros,
    // so a rollback gives back exactly that.
    await queryRunner.query(`
      CREATE TABLE chain_settlements (
        tx_hash text NOT NULL,
        log_index integer NOT NULL,
        block_number bigint NOT NULL,
        payer text NOT NULL,
        provider text NOT NULL,
        cumulative_base numeric(78,0) NOT NULL,
        paid_base numeric(78,0) NOT NULL,
        provider_share_base numeric(78,0) NOT NULL,
        fee_base numeric(78,0) NOT NULL,
        usage_root text NOT NULL,
        treasury text,
        ledger_micros numeric(78,0) NOT NULL,
        CONSTRAINT chain_settlements_pkey PRIMARY KEY (tx_hash, log_index),
        CONSTRAINT chain_settlements_event_fk FOREIGN KEY (tx_hash, log_index)
          REFERENCES chain_events (tx_hash, log_index) ON DELETE CASCADE,
        CONSTRAINT chain_settlements_split CHECK (
          paid_base > 0 AND fee_base >= 0 AND provider_share_base >= 0
          AND provider_share_base + fee_base = paid_base AND ledger_micros >= 0)
      )`);
    await queryRunner.query(
      `CREATE INDEX chain_settlements_pair_idx ON chain_settlements (payer, provider, block_number, log_index)`,
    );
    await queryRunner.query(`CREATE INDEX chain_settlements_provider_idx ON chain_settlements (provider)`);
    await queryRunner.query(`CREATE INDEX chain_settlements_treasury_idx ON chain_settlements (treasury)`);

    // Per (payer, provider): `settled_base` is the escrow's settledAmount(payer, provider).
    await queryRunner.query(`
      CREATE TABLE chain_pair_settlements (
        payer text NOT NULL,
        provider text NOT NULL,
        settled_base numeric(78,0) NOT NULL,
        paid_base numeric(78,0) NOT NULL,
        provider_share_base numeric(78,0) NOT NULL,
        fee_base numeric(78,0) NOT NULL,
        settlement_count integer NOT NULL,
        last_tx_hash text NOT NULL,
        last_block_number bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT chain_pair_settlements_pkey PRIMARY KEY (payer, provider)
      )`);

    // balanceOf(payer); account_balances carries the same available and thawing for the ledger.
    await queryRunner.query(`
      CREATE TABLE chain_payer_balances (
        payer text PRIMARY KEY,
        available_base numeric(78,0) NOT NULL,
        thawing_base numeric(78,0) NOT NULL,
        thaw_ends_at bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT chain_payer_balances_non_negative CHECK (
          available_base >= 0 AND thawing_base >= 0 AND thaw_ends_at >= 0)
      )`);

    // earningsOf(payee) = unclaimed_base.
    await queryRunner.query(`
      CREATE TABLE chain_earnings (
        payee text PRIMARY KEY,
        earned_base numeric(78,0) NOT NULL,
        claimed_base numeric(78,0) NOT NULL,
        unclaimed_base numeric(78,0) NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT chain_earnings_consistent CHECK (
          claimed_base >= 0 AND unclaimed_base >= 0 AND earned_base = claimed_base + unclaimed_base)
      )`);

    // Every rollback, for the operators.
    await queryRunner.query(`
      CREATE TABLE chain_reorgs (
        id bigserial PRIMARY KEY,
        detected_at timestamptz NOT NULL DEFAULT now(),
        common_block bigint NOT NULL,
        previous_cursor_block bigint NOT NULL,
        previous_cursor_hash text,
        events_removed integer NOT NULL
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of [
      "chain_reorgs",
      "chain_earnings",
      "chain_payer_balances",
      "chain_pair_settlements",
      "chain_settlements",
      "chain_events",
      "chain_blocks",
      "chain_cursor",
    ]) {
      await queryRunner.query(`DROP TABLE ${table}`);
    }
  }
}
