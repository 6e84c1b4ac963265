/**
 * Preloaded into Portkey's gateway (`node --require …/portkeyFetchShim.cjs
 * start-server.js`) by the gateway benchmark, and only there.
 *
 * Why: Portkey 1.15.2 relays a stream as `new Response(transformed, upstreamResponse)`
 * and then appends its `x-portkey-*` headers. Under @hono/node-server 1.19
 * (what npm resolves its `^1.3.3` to), whose Response subclass keeps the
 * init's Headers object as it is, those are the upstream fetch response's
 * headers, which are immutable: every streamed request ends in
 * "TypeError: immutable" and a 500. Non-stream requests are not affected.
 *
 * The fix, kept as small as possible: an upstream event-stream response is
 * re-wrapped once in a Response of its own, whose headers can be appended to.
 * Nothing else changes; the cost is one Response object per streamed request.
 */
"use strict";

const OriginalResponse = globalThis.Response;
const originalFetch = globalThis.fetch;

globalThis.fetch = async function fetchWithMutableStreamHeaders(input, init) {
  const response = await originalFetch(input, init);
  const type = response.headers.get("content-type");
  if (type === null || !type.startsWith("text/event-stream")) return response;
  return new OriginalResponse(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
};
