import type { Dispatcher } from "undici";
import type { UpstreamChunk } from "../../domain/chat/chatUpstream";
import { SseParser } from "../sse/sseParser";
import { UpstreamProtocolError } from "./attemptFailure";
import { DONE, parseUpstreamChunk, truncatedStream } from "./upstreamChunks";

/** What an exchange reports to the attempt it belongs to. */
export interface ExchangeOwner {
  /** The upstream's first byte: its response headers, or for a 200 event stream, its first event. */
  firstByteArrived(): void;
  /** What is left of the first-byte timeout, ms. */
  firstByteLeftMs(): number;
  /** A 200 event stream sent no event within the first-byte timeout: the exchange is being aborted for it. */
  firstByteTimedOut(): void;
}

/** A whole response body, as text. */
export interface UpstreamText {
  statusCode: number;
  text: string;
}

/** After `[DONE]`, how long to wait for the upstream to end its response before dropping the connection. */
const END_AFTER_DONE_MS = 1000;
/** Chunk text received and not yet taken by the consumer past which the upstream's socket is paused (backpressure). */
const HIGH_WATER_CHARS = 64 * 1024;

/**
 * One request to an upstream as an undici dispatch handler: the response is
 * handled as undici parses it, with no body stream, no async iteration and no
 * listener on the client's signal (the attempt calls `abort`). Timeouts are
 * undici's own: `headersTimeout` (first byte) and `bodyTimeout` (idle body),
 * which end the exchange through `onError`.
 *
 * Undici calls, in order: onConnect (with the function that aborts the
 * request), onHeaders (1xx heads are skipped), onData per piece of the body,
 * then exactly one of onComplete or onError.
 */
abstract class UpstreamExchange implements Dispatcher.DispatchHandler {
  statusCode = 0;
  /** Undici is done with the request (onComplete or onError was called). */
  protected requestEnded = false;
  private abortRequest: ((reason?: Error) => void) | null = null;
  private abortReason: Error | null = null;

  constructor(protected readonly owner: ExchangeOwner) {}

  /**
   * Cancels the request, whatever it is doing, and drops its connection; a
   * no-op once it has ended. The exchange fails with `reason` at once, also
   * while it still waits for a connection (undici is told when it gets one).
   */
  abort(reason: Error): void {
    if (this.requestEnded || this.abortReason) return;
    if (this.abortRequest) {
      // Undici calls onError(reason) from within; failing here too changes nothing then.
      this.abortRequest(reason);
    } else {
      this.abortReason = reason;
    }
    this.failed(reason);
  }

  onConnect(abort: (reason?: Error) => void): void {
    if (this.abortReason) abort(this.abortReason);
    else this.abortRequest = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // An informational head (100 Continue): the real one follows.
    if (statusCode < 200) return true;
    this.statusCode = statusCode;
    return this.headersArrived(rawHeaders, resume);
  }

  abstract onData(chunk: Buffer): boolean;

  onComplete(): void {
    this.requestEnded = true;
    this.bodyEnded();
  }

  onError(error: Error): void {
    this.requestEnded = true;
    this.failed(error);
  }

  protected abstract headersArrived(rawHeaders: Buffer[], resume: () => void): boolean;
  protected abstract bodyEnded(): void;
  protected abstract failed(error: unknown): void;
}

/**
 * A response read whole into memory, bounded: a 200's body up to `maxBytes`
 * (beyond, the exchange fails: an upstream is not trusted to send a sane
 * amount), any other status's up to `maxErrorBytes` (beyond, the text so far
 * is kept and the rest dropped: the start is all we show).
 */
export class TextExchange extends UpstreamExchange {
  readonly response: Promise<UpstreamText>;
  private resolve!: (response: UpstreamText) => void;
  private reject!: (error: unknown) => void;
  private settled = false;
  private body: BoundedBody | null = null;

  constructor(owner: ExchangeOwner, private readonly maxBytes: number, private readonly maxErrorBytes: number) {
    super(owner);
    this.response = new Promise<UpstreamText>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  onData(chunk: Buffer): boolean {
    if (this.body!.add(chunk)) return true;
    if (this.statusCode === 200) {
      this.abort(new UpstreamProtocolError(`the response body is larger than ${this.maxBytes} bytes`));
    } else {
      this.succeed();
      this.abort(new UpstreamProtocolError("the rest of the error body was dropped"));
    }
    return false;
  }

  protected headersArrived(): boolean {
    this.owner.firstByteArrived();
    this.body = new BoundedBody(this.statusCode === 200 ? this.maxBytes : this.maxErrorBytes);
    return true;
  }

  protected bodyEnded(): void {
    this.succeed();
  }

  protected failed(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.reject(error);
  }

  private succeed(): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve({ statusCode: this.statusCode, text: this.body?.text() ?? "" });
  }
}

/**
 * A streaming request. Its head decides:
 * - a 200 event stream: the body is fed to an SseParser as it arrives; each
 *   event is checked and parsed at once (`parseUpstreamChunk`) and queued for
 *   the consumer, who takes all the queued chunks per `read`. `[DONE]` ends
 *   the stream; the rest of the body is still read, so that the connection
 *   goes back to the pool. A body that ends without `[DONE]`, an error event,
 *   a chunk that is not a JSON object, or any error of the request fails it,
 *   after the chunks that came before. Until the first event, a timer holds
 *   the first-byte timeout (undici's covers only the headers), armed only if
 *   the read that brought the headers did not bring that event too;
 * - a 200 that is not an event stream: a protocol failure;
 * - any other status: its body, bounded, for `errorText`.
 *
 * `opened` settles once that is known: resolved at the first chunk or
 * `[DONE]` (a 200 event stream), or at the end of the error body; rejected if
 * the exchange failed before.
 */
export class EventStreamExchange extends UpstreamExchange {
  readonly opened: Promise<void>;
  private openResolve!: () => void;
  private openReject!: (error: unknown) => void;
  private openSettled = false;

  private errorBody: BoundedBody | null = null;
  private parser: SseParser | null = null;
  private pending: UpstreamChunk[] = [];
  private pendingChars = 0;
  private doneSeen = false;
  private failure: unknown = null;
  private hasFailure = false;
  private waiter: { resolve(chunks: readonly UpstreamChunk[] | null): void; reject(error: unknown): void } | null =
    null;
  private resume: (() => void) | null = null;
  private paused = false;
  private firstEventTimer: NodeJS.Timeout | null = null;
  private endTimer: NodeJS.Timeout | null = null;

  constructor(owner: ExchangeOwner, private readonly maxErrorBytes: number) {
    super(owner);
    this.opened = new Promise<void>((resolve, reject) => {
      this.openResolve = resolve;
      this.openReject = reject;
    });
  }

  /** The body of a status other than 200, once `opened` has resolved. */
  get errorText(): string {
    return this.errorBody?.text() ?? "";
  }

  /**
   * The chunks received since the last call, waiting for some if there are
   * none; null after `[DONE]`; rejects with the failure once the chunks before
   * it have been taken.
   */
  read(): Promise<readonly UpstreamChunk[] | null> {
    if (this.pending.length > 0) return Promise.resolve(this.takePending());
    if (this.doneSeen) return Promise.resolve(null);
    if (this.hasFailure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /**
   * The consumer is done. Before `[DONE]` the request is aborted; after it, an
   * upstream that has not ended its response yet gets END_AFTER_DONE_MS to do
   * so (its connection is then reused) before it is dropped.
   */
  release(): void {
    if (this.requestEnded) return;
    if (!this.doneSeen) {
      this.abort(new UpstreamProtocolError("the stream was let go of"));
    } else if (this.endTimer === null) {
      this.endTimer = setTimeout(this.onEndTimeout, END_AFTER_DONE_MS);
    }
  }

  onData(chunk: Buffer): boolean {
    if (this.errorBody) {
      if (this.errorBody.add(chunk)) return true;
      this.settleOpened();
      this.abort(new UpstreamProtocolError("the rest of the error body was dropped"));
      return false;
    }
    // After [DONE] (or a failure), the rest is read and ignored.
    if (this.doneSeen || this.hasFailure || !this.parser) return true;
    this.parser.push(chunk);
    if (this.hasFailure) {
      this.abort(this.failure instanceof Error ? this.failure : new Error(String(this.failure)));
      this.progress();
      return false;
    }
    this.progress();
    if (this.pendingChars >= HIGH_WATER_CHARS && !this.doneSeen) {
      this.paused = true;
      return false;
    }
    return true;
  }

  protected headersArrived(rawHeaders: Buffer[], resume: () => void): boolean {
    if (this.statusCode !== 200) {
      this.owner.firstByteArrived();
      this.errorBody = new BoundedBody(this.maxErrorBytes);
      return true;
    }
    if (!isEventStream(headerValue(rawHeaders, "content-type"))) {
      this.abort(new UpstreamProtocolError("the provider answered a stream request without an event stream"));
      return false;
    }
    this.resume = resume;
    this.parser = new SseParser(this.onEvent);
    // The first event usually comes in the read that brought the headers: the timer is armed only if it did not.
    queueMicrotask(this.armFirstEventTimer);
    return true;
  }

  protected bodyEnded(): void {
    this.clearTimers();
    if (this.errorBody) {
      this.settleOpened();
      return;
    }
    if (this.parser && !this.doneSeen && !this.hasFailure) {
      // A last event without its blank line still counts; then the stream must have ended with [DONE].
      this.parser.end();
      if (!this.doneSeen && !this.hasFailure) this.fail(truncatedStream());
    }
    this.progress();
  }

  protected failed(error: unknown): void {
    this.clearTimers();
    // Whatever follows [DONE] cannot change a finished stream; the first failure is the one reported.
    if (!this.doneSeen) this.fail(error);
    this.progress();
  }

  private readonly onEvent = (data: string, event: string | undefined): void => {
    if (this.doneSeen || this.hasFailure) return;
    if (data === DONE) {
      this.doneSeen = true;
      return;
    }
    let parsed: Record<string, unknown>;
    try {
      parsed = parseUpstreamChunk(data, event);
    } catch (failure) {
      this.fail(failure);
      return;
    }
    this.pending.push({ text: data, parsed });
    this.pendingChars += data.length;
  };

  private readonly armFirstEventTimer = (): void => {
    if (this.openSettled || this.requestEnded) return;
    this.firstEventTimer = setTimeout(this.onFirstEventTimeout, Math.max(0, this.owner.firstByteLeftMs()));
  };

  private readonly onFirstEventTimeout = (): void => {
    this.firstEventTimer = null;
    if (this.openSettled) return;
    this.owner.firstByteTimedOut();
    this.abort(new UpstreamProtocolError("no first event within the first-byte timeout"));
  };

  private readonly onEndTimeout = (): void => {
    this.endTimer = null;
    this.abort(new UpstreamProtocolError("the response did not end after [DONE]"));
  };

  private fail(failure: unknown): void {
    if (this.hasFailure) return;
    this.hasFailure = true;
    this.failure = failure;
  }

  /** Hands what has arrived to whoever waits for it: `opened` first, then a `read`. */
  private progress(): void {
    if (!this.openSettled) {
      if (this.pending.length > 0 || this.doneSeen) {
        this.clearFirstEventTimer();
        this.owner.firstByteArrived();
        this.settleOpened();
      } else if (this.hasFailure) {
        this.clearFirstEventTimer();
        this.openSettled = true;
        this.openReject(this.failure);
      }
      return;
    }
    const waiter = this.waiter;
    if (waiter === null) return;
    if (this.pending.length > 0) {
      this.waiter = null;
      waiter.resolve(this.takePending());
    } else if (this.doneSeen) {
      this.waiter = null;
      waiter.resolve(null);
    } else if (this.hasFailure) {
      this.waiter = null;
      waiter.reject(this.failure);
    }
  }

  private takePending(): UpstreamChunk[] {
    const chunks = this.pending;
    this.pending = [];
    this.pendingChars = 0;
    if (this.paused) {
      // Undici runs the data it holds from within resume(): the new chunks queue up behind the ones taken here.
      this.paused = false;
      this.resume!();
    }
    return chunks;
  }

  private settleOpened(): void {
    if (this.openSettled) return;
    this.openSettled = true;
    this.openResolve();
  }

  private clearFirstEventTimer(): void {
    if (this.firstEventTimer !== null) {
      clearTimeout(this.firstEventTimer);
      this.firstEventTimer = null;
    }
  }

  private clearTimers(): void {
    this.clearFirstEventTimer();
    if (this.endTimer !== null) {
      clearTimeout(this.endTimer);
      this.endTimer = null;
    }
  }
}

/** A body collected in memory up to `limit` bytes. */
class BoundedBody {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly limit: number) {}

  /** Keeps the chunk; false once the limit is passed (the part up to it is kept). */
  add(chunk: Buffer): boolean {
    const room = this.limit - this.size;
    if (chunk.length > room) {
      if (room > 0) this.chunks.push(chunk.subarray(0, room));
      this.size = this.limit;
      return false;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    return true;
  }

  text(): string {
    const chunks = this.chunks;
    if (chunks.length === 1) return chunks[0].toString("utf8");
    return Buffer.concat(chunks, this.size).toString("utf8");
  }
}

/** The first value of a header in undici's raw list (`[name, value, name, value, …]`). */
function headerValue(rawHeaders: (Buffer | string)[], name: string): string | undefined {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const key = rawHeaders[i];
    if (key.length === name.length && key.toString().toLowerCase() === name) return rawHeaders[i + 1].toString();
  }
  return undefined;
}

function isEventStream(contentType: string | undefined): boolean {
  return typeof contentType === "string" && contentType.toLowerCase().startsWith("text/event-stream");
}
