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
 * The chunks of one upstream read are written as one string; events written
 * in one turn of the event loop (the last chunks, the usage chunk, [DONE])
 * leave in one system call: the socket is corked at the first and uncorked
 * on the next tick, which delays nothing.
 */
export class SseChunkSink implements ChunkSink {
  private corked = false;
  private readonly uncork = () => {
    this.corked = false;
    this.res.uncork();
  };

  constructor(
    private readonly res: ServerResponse,
    private readonly disconnect: { readonly aborted: boolean },
    private readonly onOpen: () => void
  ) {}

  get clientGone(): boolean {
    return this.disconnect.aborted;
  }

  open(): void {
    this.onOpen();
    this.res.writeHead(200, SSE_HEADERS);
  }

  write(jsons: readonly string[]): boolean {
    let text = "";
    for (let i = 0; i < jsons.length; i++) text += `data: ${jsons[i]}\n\n`;
    return this.writeText(text);
  }

  drained(): Promise<void> {
    // A closed connection never drains: waiting for it would hang the request.
    if (!this.res.writableNeedDrain || this.isClosed()) return Promise.resolve();
    return this.drain();
  }

  send(json: string): Promise<void> {
    return this.writeAndWait(`data: ${json}\n\n`);
  }

  sendDone(): Promise<void> {
    return this.writeAndWait("data: [DONE]\n\n");
  }

  sendError(error: GatewayError): Promise<void> {
    return this.writeAndWait(`data: ${JSON.stringify(error.toBody())}\n\n`);
  }

  close(): void {
    if (!this.res.writableEnded) this.res.end();
  }

  private isClosed(): boolean {
    return this.clientGone || this.res.writableEnded || this.res.destroyed;
  }

  /** False when the response's buffer is full (nothing is written, and true returned, once the client has gone). */
  private writeText(text: string): boolean {
    if (this.isClosed()) return true;
    if (!this.corked) {
      this.corked = true;
      this.res.cork();
      process.nextTick(this.uncork);
    }
    return this.res.write(text);
  }

  private writeAndWait(text: string): Promise<void> {
    return this.writeText(text) ? Promise.resolve() : this.drain();
  }

  private drain(): Promise<void> {
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
