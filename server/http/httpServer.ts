import http from "node:http";
import type { AddressInfo } from "node:net";

/** Listens on `port` (0: any free one) and resolves once bound, with the port actually used. */
export async function listen(
  handler: http.RequestListener,
  port: number,
  host: string
): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer(handler);
  // Longer than the usual 60 s idle timeout of load balancers, so they never reuse a connection we just closed.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}

/**
 * Stops accepting connections, closes idle keep-alive connections as they
 * become idle, and gives requests in flight (streams included) `graceMs` to
 * finish before cutting what is left.
 */
export async function closeGracefully(server: http.Server, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // A keep-alive connection whose last response just ended is idle but stays open; close those as they appear.
  server.closeIdleConnections();
  const idleSweeper = setInterval(() => server.closeIdleConnections(), 50);
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, graceMs);
  });
  await Promise.race([closed, grace]);
  clearTimeout(timer);
  clearInterval(idleSweeper);
  server.closeAllConnections();
  await closed;
}
