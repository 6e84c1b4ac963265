import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Sign-In with Ethereum: single-use nonces and browser sessions.
 *
 * Neither table holds a secret a thief could use. A session row keeps only the
 * SHA-256 of the cookie's random id and of the session's CSRF token, so a leaked
 * dump signs nobody in. A nonce is public once issued (it is in the message the
 * user signs); what makes it single-use is that signing in deletes its row, and
 * `binding_sha256` ties it to the browser that asked for it.
 */
export class Sessions1767484800000 implements MigrationInterface {
  name = "Sessions1767484800000";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE siwe_nonces (
        nonce text PRIMARY KEY,
        domain text NOT NULL,
        chain_id bigint NOT NULL,
        binding_sha256 text NOT NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        CONSTRAINT siwe_nonces_nonce_format CHECK (nonce ~ '^[A-Za-z0-9]{8,64}$'),
        CONSTRAINT siwe_nonces_binding_format CHECK (binding_sha256 ~ '^[0-9a-f]{64}$')
      )`);
    await queryRunner.query(`CREATE INDEX siwe_nonces_expires_at_idx ON siwe_nonces (expires_at)`);

    await queryRunner.query(`
      CREATE TABLE sessions (
        id_sha256 text PRIMARY KEY,
        account text NOT NULL,
        csrf_sha256 text NOT NULL,
        chain_id bigint NOT NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        CONSTRAINT sessions_account_fk FOREIGN KEY (account) REFERENCES accounts (address),
        CONSTRAINT sessions_id_sha256_format CHECK (id_sha256 ~ '^[0-9a-f]{64}$'),
        CONSTRAINT sessions_csrf_sha256_format CHECK (csrf_sha256 ~ '^[0-9a-f]{64}$')
      )`);
    await queryRunner.query(`CREATE INDEX sessions_account_idx ON sessions (account)`);
    await queryRunner.query(`CREATE INDEX sessions_expires_at_idx ON sessions (expires_at)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE sessions`);
    await queryRunner.query(`DROP TABLE siwe_nonces`);
  }
}
