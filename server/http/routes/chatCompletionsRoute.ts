import type { Context } from "koa";
import { type AdmittedChatCompletion, holdChatCompletion, screenChatCompletion } from "../../domain/chat/admitChatCompletion";
import type { ChatCompletionDeps } from "../../domain/chat/chatCompletionDeps";
import { ChatCompletionRequestSchema } from "../../domain/chat/chatCompletionRequest";
import { completeChatCompletion } from "../../domain/chat/completeChatCompletion";
import { startUpstreamEarly, UpstreamSignal } from "../../domain/chat/earlyUpstream";
import { abandonChatCompletion } from "../../domain/chat/settleChatCompletion";
import { streamChatCompletion } from "../../domain/chat/streamChatCompletion";
import type { ApiKey } from "../../domain/types";
import { watchClientDisconnect } from "../streaming/clientDisconnect";
import { SseChunkSink } from "../streaming/sseChunkSink";
import { validateBody } from "../validation/validateBody";

/**
 * `POST /v1/chat/completions`, after authentication and body parsing:
 * validate → screen (model, permissions, rate, providers) → hold → serve
 * (stream or not) → the hold is released in `finally` if serving did not
 * bill it. For an account with ample room the upstream call starts with the
 * hold instead of after it; the client still sees nothing before the hold.
 */
export function chatCompletionsRoute(deps: ChatCompletionDeps): (ctx: Context) => Promise<void> {
  return async (ctx) => {
    const clientBody = ctx.request.body as Record<string, unknown>;
    const request = validateBody(ChatCompletionRequestSchema, clientBody);
    const key = ctx.state.apiKey as ApiKey;
    ctx.state.logFields = { model: request.model, keyId: key.id, stream: request.stream === true };

    const screened = await screenChatCompletion(deps, ctx.state.requestId as string, key, request);
    ctx.set(screened.rateLimitHeaders);
    const disconnect = watchClientDisconnect(ctx.res);
    const upstreamSignal = new UpstreamSignal(disconnect.signal);
    // An account with ample room: its upstream call starts now, alongside the hold (see earlyUpstream.ts).
    const early = screened.overlapHold
      ? startUpstreamEarly(deps, screened, clientBody, upstreamSignal, request.stream === true)
      : undefined;
    let admitted: AdmittedChatCompletion | undefined;
    try {
      admitted = await holdChatCompletion(deps, screened);
      if (request.stream) {
        const sink = new SseChunkSink(ctx.res, disconnect.signal, () => {
          ctx.status = 200;
          // From here on the response is ours to write; Koa must not touch it.
          ctx.respond = false;
        });
        await streamChatCompletion(deps, admitted, clientBody, upstreamSignal, sink, early?.stream);
      } else {
        // The upstream's JSON text, passed on as it came (model renamed): a string body, typed as JSON.
        ctx.body = await completeChatCompletion(deps, admitted, clientBody, upstreamSignal, early?.completion);
        ctx.type = "application/json";
      }
    } finally {
      // No hold, no service: an upstream call that started early is called off.
      if (!admitted) early?.cancel();
      upstreamSignal.dispose();
      disconnect.dispose();
      if (admitted) await abandonChatCompletion(deps, admitted);
    }
  };
}
