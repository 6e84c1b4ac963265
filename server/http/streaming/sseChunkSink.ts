import type { ServerResponse } from "node:http";
import type { ChunkSink } from "../../domain/chat/streamChatCompletion";
import type { GatewayError } from "../../domain/errors/gatewayError";

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  connection: "keep-alive",
  // Reverse proxies (nginx) would otherwise buffer the stream and defeat it.
  "x-accel-buffering": "no",
};

/**
 * Writes server-sent events to the client, `data: …\n\n` each, honouring
 * backpressure: a slow reader makes us wait (and, through TCP, the upstream),
 * instead of buffering an unbounded answer in memory.
 *
 * Events relayed in one turn of the event loop (an upstream read usually
 * holds several) leave in one write: the socket is corked at the first and
 * uncorked on the next tick, which saves a system call per event and delays
 * nothing.
 */
export class SseChunkSink implements ChunkSink {
  private corked = false;
  private readonly uncork = () => {
    this.corked = false;
    this.res.uncork();
  };

  constructor(
    private readonly res: ServerResponse,
    private readonly disconnect: AbortSignal,
    private readonly onOpen: () => void
  ) {}

  get clientGone(): boolean {
    return this.disconnect.aborted;
  }

  open(): void {
    this.onOpen();
    this.res.writeHead(200, SSE_HEADERS);
  }

  send(json: string): Promise<void> {
    return this.write(`data: ${json}\n\n`);
  }

  sendDone(): Promise<void> {
    return this.write("data: [DONE]\n\n");
  }

  sendError(error: GatewayError): Promise<void> {
    return this.write(`data: ${JSON.stringify(error.toBody())}\n\n`);
  }

  close(): void {
    if (!this.res.writableEnded) this.res.end();
  }

  private write(text: string): Promise<void> {
    // A write to a closed connection never drains: waiting for it would hang the request.
    if (this.clientGone || this.res.writableEnded || this.res.destroyed) return Promise.resolve();
    if (!this.corked) {
      this.corked = true;
      this.res.cork();
      process.nextTick(this.uncork);
    }
    if (this.res.write(text)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.res.off("drain", done);
        this.res.off("close", done);
        resolve();
      };
      this.res.on("drain", done);
      this.res.on("close", done);
    });
  }
}
