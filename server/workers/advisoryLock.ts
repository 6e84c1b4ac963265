import { Client, type Pool, type PoolClient } from "pg";

/**
 * Postgres advisory locks that elect the one gateway instance that acts, for
 * the workers every instance runs (the chain watcher, the settlement worker).
 *
 * A lock is named by a string (`"shareai.chain-watcher"`); Postgres locks
 * `hashtext(name)`, the same scheme as the migrations' lock. Locks are
 * session-level: Postgres releases them when the holding connection ends, so
 * an instance that dies, or whose connection is cut, gives the lock up without
 * anyone's help.
 */

const TRY_LOCK = "SELECT pg_try_advisory_lock(hashtext($1)) AS acquired";
const UNLOCK = "SELECT pg_advisory_unlock(hashtext($1)) AS released";

export type WithLockResult<T> = { acquired: true; value: T } | { acquired: false };

/**
 * Runs `fn` only if the lock `lockKey` is free, holding it on a pool connection
 * until `fn` settles; resolves to `{ acquired: false }` without running `fn`
 * when another session holds it. For one-off exclusive jobs; a worker that acts
 * tick after tick uses {@link createLeaderElection} instead.
 */
export async function withAdvisoryLock<T>(
  pool: Pool,
  lockKey: string,
  fn: (client: PoolClient) => Promise<T>,
): Promise<WithLockResult<T>> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    const { rows } = await client.query<{ acquired: boolean }>(TRY_LOCK, [lockKey]);
    if (!rows[0].acquired) return { acquired: false };
    try {
      return { acquired: true, value: await fn(client) };
    } finally {
      try {
        await client.query(UNLOCK, [lockKey]);
      } catch (error) {
        // A connection that cannot unlock must not go back to the pool still holding the lock.
        broken = error as Error;
      }
    }
  } catch (error) {
    broken ??= error as Error;
    throw error;
  } finally {
    client.release(broken);
  }
}

export interface LeaderElectionOptions {
  /** The pool whose connection settings the election's own connection copies. */
  pool: Pool;
  /** The lock's name; one name per kind of worker. */
  lockKey: string;
  /** Told when this instance becomes or stops being the leader. */
  onChange?: (leader: boolean) => void;
  /** Told why the lock connection failed (the election then simply retries on the next check). */
  onError?: (error: unknown) => void;
}

/**
 * Which instance leads, decided by a session-level advisory lock held on a
 * connection of its own (outside the pool, so holding it costs the pool
 * nothing and no pooled query can release it).
 */
export interface LeaderElection {
  /**
   * Call at the start of every tick. When this instance leads, proves the lock
   * connection is still alive (its session, and so its lock, exists); otherwise
   * tries to take the lock. Resolves to whether this instance leads now; never
   * rejects (a broken connection means "not the leader", and is retried next time).
   */
  check(): Promise<boolean>;
  /** The answer of the last `check()`. */
  readonly isLeader: boolean;
  /** Gives the lock up and closes the connection; later checks answer false. */
  release(): Promise<void>;
}

export function createLeaderElection(options: LeaderElectionOptions): LeaderElection {
  let client: Client | null = null;
  let leader = false;
  let released = false;
  let checking: Promise<boolean> | null = null;

  const setLeader = (value: boolean) => {
    if (value === leader) return;
    leader = value;
    options.onChange?.(value);
  };

  const dropConnection = async () => {
    const closing = client;
    client = null;
    setLeader(false);
    await closing?.end().catch(() => undefined);
  };

  const connect = async (): Promise<Client> => {
    const fresh = new Client({
      ...options.pool.options,
      application_name: `shareai leader ${options.lockKey}`,
      keepAlive: true,
    });
    // Without a listener an 'error' on an idle connection would crash the process; the
    // next check finds the connection gone and reports this instance as a follower.
    fresh.on("error", (error) => {
      if (client === fresh) {
        client = null;
        setLeader(false);
      }
      options.onError?.(error);
    });
    await fresh.connect();
    return fresh;
  };

  const checkOnce = async (): Promise<boolean> => {
    if (released) return false;
    try {
      if (!client) client = await connect();
      if (leader) {
        await client.query("SELECT 1");
      } else {
        const { rows } = await client.query<{ acquired: boolean }>(TRY_LOCK, [options.lockKey]);
        setLeader(rows[0].acquired);
      }
    } catch (error) {
      options.onError?.(error);
      await dropConnection();
    }
    if (released) {
      await dropConnection();
      return false;
    }
    return leader;
  };

  return {
    check() {
      // Concurrent callers share one round trip instead of racing on one connection.
      checking ??= checkOnce().finally(() => {
        checking = null;
      });
      return checking;
    },
    get isLeader() {
      return leader;
    },
    async release() {
      released = true;
      await checking?.catch(() => undefined);
      // Ending the session releases its session-level locks; no explicit unlock is needed.
      await dropConnection();
    },
  };
}
