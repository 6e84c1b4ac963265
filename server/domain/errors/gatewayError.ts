/**
 * The one error type the gateway throws on purpose. The central handler
 * (`server/http/errors/errorHandler.ts`) turns it into OpenAI's body,
 * `{"error": {"message", "type", "param", "code"}}`, with `status` and `headers`.
 */
export class GatewayError extends Error {
  readonly type: string;
  /** Extra response headers (`retry-after`, `x-ratelimit-*`, `x-should-retry`). */
  headers: Record<string, string> = {};

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly param: string | null = null,
    type?: string
  ) {
    super(message);
    this.name = "GatewayError";
    this.type = type ?? defaultType(status);
  }

  withHeaders(headers: Record<string, string>): this {
    Object.assign(this.headers, headers);
    return this;
  }

  /**
   * Whether the client may retry. Every 4xx but 408/409/429 is a mistake that
   * retrying cannot fix, so it says `x-should-retry: false` (the official SDKs
   * obey it); a 429 or a 5xx is worth retrying unless it says otherwise.
   */
  get shouldRetry(): boolean {
    const header = this.headers["x-should-retry"];
    if (header !== undefined) return header === "true";
    return this.status === 408 || this.status === 409 || this.status === 429 || this.status >= 500;
  }

  toBody(): { error: { message: string; type: string; param: string | null; code: string } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** OpenAI's `type` for each status: what OpenAI itself sends, so clients that switch on it keep working. */
function defaultType(status: number): string {
  if (status === 402) return "insufficient_quota";
  if (status === 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}
