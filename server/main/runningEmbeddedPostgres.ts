import { promises as fs } from "node:fs";
import path from "node:path";
import { isProcessAlive } from "../persistence/processes";

/**
 * The embedded Postgres a running `shareai start` owns, found from its data
 * folder (the layout docs/ledger.md describes: the cluster in `cluster/`, whose
 * `postmaster.pid` names the server's pid and port, and the superuser's
 * password in `superuser-password`).
 *
 * Why admin commands need this: `openDatabase` without a URL adopts a server
 * it finds running there, and stops it when closed. That is right for a
 * gateway restarted after a crash, and wrong for `shareai keys create` typed
 * in a second terminal while `npm start` runs: it would stop the database
 * under the gateway. The CLI connects to such a server by URL instead, which
 * it never stops.
 */

const EMBEDDED_DATABASE_NAME = "shareai";

export async function runningEmbeddedPostgresUrl(dataDir: string): Promise<string | null> {
  const folder = path.resolve(dataDir);
  let pidFile: string;
  let password: string;
  try {
    pidFile = await fs.readFile(path.join(folder, "cluster", "postmaster.pid"), "utf8");
    password = (await fs.readFile(path.join(folder, "superuser-password"), "utf8")).trim();
  } catch {
    return null;
  }
  // Line 1 is the pid, line 4 the port (Postgres' miscadmin.h, LOCK_FILE_LINE_*).
  const lines = pidFile.split("\n");
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0 || !isProcessAlive(pid)) return null;
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${EMBEDDED_DATABASE_NAME}`;
}
