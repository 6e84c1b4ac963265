import type { Pool } from "pg";
import type { Address } from "../../domain/types";
import { normalizeAddress } from "../address";
import { runNamed, type NamedStatement } from "../pgPool";

/** A signed-in browser. The cookie's id and the CSRF token are known here only by their SHA-256. */
export interface Session {
  idSha256: string;
  account: Address;
  chainId: number;
  csrfSha256: string;
  createdAt: Date;
  expiresAt: Date;
}

export type NewSession = Omit<Session, "account"> & { account: string };

const ENSURE_ACCOUNT = `INSERT INTO accounts (address) VALUES ($1) ON CONFLICT DO NOTHING`;
// Every account has a balance row: the ledger's statements lock it and rely on it.
const ENSURE_BALANCE = `INSERT INTO account_balances (account) VALUES ($1) ON CONFLICT DO NOTHING`;
const SWEEP_EXPIRED = `DELETE FROM sessions WHERE expires_at <= $1::timestamptz`;
const INSERT_SESSION = `
INSERT INTO sessions (id_sha256, account, csrf_sha256, chain_id, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5::timestamptz, $6::timestamptz)`;

const FIND_SESSION: NamedStatement = {
  name: "session_find",
  text: `
SELECT id_sha256, account, csrf_sha256, chain_id, created_at, expires_at
FROM sessions WHERE id_sha256 = $1 AND expires_at > $2::timestamptz`,
};

const DELETE_SESSION: NamedStatement = {
  name: "session_delete",
  text: `DELETE FROM sessions WHERE id_sha256 = $1`,
};

interface SessionSqlRow {
  id_sha256: string;
  account: string;
  csrf_sha256: string;
  chain_id: string;
  created_at: Date;
  expires_at: Date;
}

/** Browser sessions of the web API, in Postgres so that any gateway instance can serve any browser. */
export class PostgresSessionStore {
  constructor(private readonly pool: Pool) {}

  /**
   * Creates the account on its first sign-in (with its empty balance row) and
   * the session, in one transaction; expired sessions are deleted on the way.
   */
  async create(input: NewSession): Promise<Session> {
    const session: Session = { ...input, account: normalizeAddress(input.account) };
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query(SWEEP_EXPIRED, [session.createdAt]);
      await client.query(ENSURE_ACCOUNT, [session.account]);
      await client.query(ENSURE_BALANCE, [session.account]);
      await client.query(INSERT_SESSION, [
        session.idSha256,
        session.account,
        session.csrfSha256,
        session.chainId,
        session.createdAt,
        session.expiresAt,
      ]);
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    return session;
  }

  /** The live session whose cookie hashes to `idSha256`, or null (unknown, signed out or expired). */
  async find(idSha256: string, now: Date): Promise<Session | null> {
    const [row] = await runNamed<SessionSqlRow>(this.pool, FIND_SESSION, [idSha256, now]);
    return row ? sessionFromRow(row) : null;
  }

  async delete(idSha256: string): Promise<void> {
    await runNamed(this.pool, DELETE_SESSION, [idSha256]);
  }
}

function sessionFromRow(row: SessionSqlRow): Session {
  return {
    idSha256: row.id_sha256,
    account: row.account,
    chainId: Number(row.chain_id),
    csrfSha256: row.csrf_sha256,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}
