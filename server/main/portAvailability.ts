import { createServer } from "node:net";

/**
 * Fails fast, before the database is opened, when the gateway's port is taken:
 * most often by a gateway already running. Opening the embedded Postgres first
 * would take over that gateway's database server and, on the way out, stop it.
 * Port 0 (any free port) always succeeds. A port taken between this check and
 * the real listen still fails there, cleanly.
 */
export async function assertPortAvailable(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once("error", (error: NodeJS.ErrnoException) => {
      reject(
        error.code === "EADDRINUSE"
          ? new Error(
              `port ${port} on ${host} is already in use (is a gateway already running? set PORT to use another)`,
            )
          : error,
      );
    });
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}
