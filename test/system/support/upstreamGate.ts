import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A pass-through proxy in front of an upstream that holds every chat request
 * until the test opens it. With it a test can wait until every request has
 * either been refused by the gateway or is waiting upstream (holding its
 * worst case), and only then let the upstream answer: "all holds were asked
 * for before any was billed" becomes a fact rather than a race against a
 * fixed delay. Everything else (health probes) passes at once.
 */
export class UpstreamGate {
  /** Chat requests held at the gate right now. */
  waiting = 0;
  /** Chat requests that arrived, ever. */
  arrived = 0;
  private release!: () => void;
  private opened = new Promise<void>((resolve) => (this.release = resolve));
  private readonly sockets = new Set<import("node:net").Socket>();

  private constructor(private readonly server: http.Server, private readonly target: URL) {}

  static async start(targetBaseUrl: string): Promise<UpstreamGate> {
    const server = http.createServer();
    const gate = new UpstreamGate(server, new URL(targetBaseUrl));
    server.on("request", (req, res) => void gate.handle(req, res));
    server.on("connection", (socket) => {
      gate.sockets.add(socket);
      socket.on("close", () => gate.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return gate;
  }

  /** Same path as the target's (`…/v1`), on the gate's port. */
  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${this.target.pathname.replace(/\/+$/, "")}`;
  }

  open(): void {
    this.release();
  }

  /** Closed again for the next round. */
  reset(): void {
    this.release();
    this.waiting = 0;
    this.arrived = 0;
    this.opened = new Promise<void>((resolve) => (this.release = resolve));
  }

  async close(): Promise<void> {
    this.release();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method === "POST" && (req.url ?? "").endsWith("/chat/completions")) {
      this.arrived += 1;
      this.waiting += 1;
      await this.opened;
      this.waiting -= 1;
      if (res.destroyed) return;
    }
    const forward = http.request(
      {
        host: this.target.hostname,
        port: this.target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: this.target.host },
      },
      (upstream) => {
        res.writeHead(upstream.statusCode ?? 502, upstream.headers);
        upstream.pipe(res);
      },
    );
    forward.on("error", () => res.destroy());
    res.on("close", () => forward.destroy());
    forward.end(Buffer.concat(chunks));
  }
}
