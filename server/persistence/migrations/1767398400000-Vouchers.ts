import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Settlement: cumulative vouchers, the transactions that carry them to the escrow, and what the
 * escrow paid for each. See docs/settlement-worker.md.
 *
 * - `vouchers`: one row per signed voucher. The natural key (payer, provider,
 *   cumulative_amount_base) makes building idempotent; `state` moves
 *   pending → submitted → confirmed → final, and back on a reorg.
 * - `usage_records.voucher_id`: the voucher whose usage root holds the record's receipt. Set once,
 *   by the settlement worker; a partial index keeps "usage not yet in a voucher" cheap to find
 *   however long the table grows. No foreign key, like the rest of usage_records (see the
 *   initial schema): the worker links records only inside the transaction that inserts the voucher.
 * - `voucher_settlements`: each mined inclusion of a voucher in a transaction: what it paid (0 when
 *   the pair was already settled past it, or the deposit was empty) and the pair's settled amount
 *   after it. A voucher partly paid by a short deposit is paid again later: several rows.
 * - `settlement_transactions`: every `settle` transaction the worker signed, written before it is
 *   broadcast (with its raw bytes, so a crash between writing and sending loses nothing); fee bumps
 *   are new rows with the same nonce.
 * - `settlement_submitters`: the next nonce of each submitter key, as the worker tracks it.
 * - `account_balances.settlement_shortfall_base`: what the escrow could not pay of this account's
 *   vouchers (a short deposit). While it is above zero the ledger's reserve refuses new holds.
 */
export class Vouchers1767398400000 implements MigrationInterface {
  name = "Vouchers1767398400000";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE vouchers (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        payer text NOT NULL,
        provider text NOT NULL,
        cumulative_amount_base numeric(78,0) NOT NULL,
        total_micros numeric(78,0) NOT NULL,
        carried_micros numeric(78,0) NOT NULL,
        usage_root text NOT NULL,
        receipt_count integer NOT NULL,
        first_receipt_at timestamptz NOT NULL,
        last_receipt_at timestamptz NOT NULL,
        signer text NOT NULL,
        signature text NOT NULL,
        signed_at timestamptz NOT NULL,
        state text NOT NULL DEFAULT 'pending',
        tx_hash text,
        nonce bigint,
        submitted_at timestamptz,
        confirmed_block bigint,
        paid_base numeric(78,0) NOT NULL DEFAULT 0,
        settled_base numeric(78,0),
        last_error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT vouchers_pair_amount_unique UNIQUE (payer, provider, cumulative_amount_base),
        CONSTRAINT vouchers_usage_root_unique UNIQUE (usage_root),
        CONSTRAINT vouchers_state_known CHECK (
          state IN ('pending', 'submitted', 'confirmed', 'final', 'superseded')),
        CONSTRAINT vouchers_addresses_format CHECK (
          payer ~ '^0x[0-9a-f]{40}$' AND provider ~ '^0x[0-9a-f]{40}$' AND signer ~ '^0x[0-9a-f]{40}$'),
        CONSTRAINT vouchers_amounts_valid CHECK (
          cumulative_amount_base > 0 AND total_micros >= 0 AND carried_micros >= 0
          AND carried_micros < 1000000 AND paid_base >= 0 AND receipt_count > 0)
      )`);
    // The worker's queues: everything not final, by state.
    await queryRunner.query(
      `CREATE INDEX vouchers_unfinished_idx ON vouchers (state, payer, provider) WHERE state <> 'final'`,
    );

    await queryRunner.query(`ALTER TABLE usage_records ADD COLUMN voucher_id bigint`);
    await queryRunner.query(
      `CREATE INDEX usage_records_unvouchered_idx ON usage_records (account, provider_address, created_at) WHERE voucher_id IS NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX usage_records_voucher_idx ON usage_records (voucher_id) WHERE voucher_id IS NOT NULL`,
    );

    await queryRunner.query(`
      CREATE TABLE settlement_transactions (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        hash text NOT NULL,
        submitter text NOT NULL,
        nonce bigint NOT NULL,
        voucher_ids bigint[] NOT NULL,
        gas_limit numeric(78,0) NOT NULL,
        max_fee_per_gas numeric(78,0),
        max_priority_fee_per_gas numeric(78,0),
        gas_price numeric(78,0),
        raw text NOT NULL,
        state text NOT NULL DEFAULT 'sent',
        replaces_id bigint,
        sent_at timestamptz NOT NULL,
        block_number bigint,
        block_hash text,
        gas_used numeric(78,0),
        effective_gas_price numeric(78,0),
        error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT settlement_transactions_hash_unique UNIQUE (hash),
        CONSTRAINT settlement_transactions_replaces_fk FOREIGN KEY (replaces_id) REFERENCES settlement_transactions (id),
        CONSTRAINT settlement_transactions_state_known CHECK (
          state IN ('sent', 'mined', 'final', 'replaced', 'dropped', 'failed'))
      )`);
    await queryRunner.query(
      `CREATE INDEX settlement_transactions_open_idx ON settlement_transactions (submitter, nonce) WHERE state IN ('sent', 'replaced', 'mined')`,
    );

    await queryRunner.query(`
      CREATE TABLE voucher_settlements (
        voucher_id bigint NOT NULL,
        tx_hash text NOT NULL,
        block_number bigint NOT NULL,
        block_hash text NOT NULL,
        log_index integer,
        paid_base numeric(78,0) NOT NULL,
        settled_after_base numeric(78,0) NOT NULL,
        PRIMARY KEY (voucher_id, tx_hash),
        CONSTRAINT voucher_settlements_voucher_fk FOREIGN KEY (voucher_id) REFERENCES vouchers (id),
        CONSTRAINT voucher_settlements_amounts_valid CHECK (paid_base >= 0 AND settled_after_base >= 0)
      )`);
    await queryRunner.query(`CREATE INDEX voucher_settlements_tx_idx ON voucher_settlements (tx_hash)`);

    await queryRunner.query(`
      CREATE TABLE settlement_submitters (
        address text PRIMARY KEY,
        next_nonce bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT settlement_submitters_address_format CHECK (address ~ '^0x[0-9a-f]{40}$')
      )`);

    await queryRunner.query(
      `ALTER TABLE account_balances ADD COLUMN settlement_shortfall_base numeric(78,0) NOT NULL DEFAULT 0`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE account_balances DROP COLUMN settlement_shortfall_base`);
    await queryRunner.query(`DROP TABLE settlement_submitters`);
    await queryRunner.query(`DROP TABLE voucher_settlements`);
    await queryRunner.query(`DROP TABLE settlement_transactions`);
    await queryRunner.query(`DROP INDEX usage_records_voucher_idx`);
    await queryRunner.query(`DROP INDEX usage_records_unvouchered_idx`);
    await queryRunner.query(`ALTER TABLE usage_records DROP COLUMN voucher_id`);
    await queryRunner.query(`DROP TABLE vouchers`);
  }
}
