/**
 * The body sent upstream: the client's own, field for field, with the model
 * renamed to what this upstream calls it and, when streaming, usage always
 * asked for (metering depends on it; whether the client sees it is decided on
 * the way back).
 */
export function upstreamRequestBody(
  clientBody: Record<string, unknown>,
  upstreamModel: string,
  stream: boolean
): string {
  const body: Record<string, unknown> = { ...clientBody, model: upstreamModel };
  if (stream) {
    const asked = clientBody.stream_options;
    body.stream_options = { ...(typeof asked === "object" && asked !== null ? asked : {}), include_usage: true };
  }
  return JSON.stringify(body);
}
