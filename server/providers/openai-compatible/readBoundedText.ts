import type { Readable } from "node:stream";
import { UpstreamProtocolError } from "./attemptFailure";
import { discardBody } from "./discardBody";

/**
 * Reads a response body as UTF-8, refusing to buffer more than `maxBytes`:
 * an upstream is not trusted to send a sane amount. With `truncate`, the text
 * so far is returned instead (error bodies: the start is all we show).
 */
export async function readBoundedText(body: Readable, maxBytes: number, truncate = false): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      discardBody(body);
      if (!truncate) throw new UpstreamProtocolError(`the response body is larger than ${maxBytes} bytes`);
      chunks.push(chunk.subarray(0, chunk.length - (size - maxBytes)));
      break;
    }
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0].toString("utf8") : Buffer.concat(chunks).toString("utf8");
}
