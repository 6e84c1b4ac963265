import type { Context } from "koa";
import { admitChatCompletion } from "../../domain/chat/admitChatCompletion";
import type { ChatCompletionDeps } from "../../domain/chat/chatCompletionDeps";
import { ChatCompletionRequestSchema } from "../../domain/chat/chatCompletionRequest";
import { completeChatCompletion } from "../../domain/chat/completeChatCompletion";
import { abandonChatCompletion } from "../../domain/chat/settleChatCompletion";
import { streamChatCompletion } from "../../domain/chat/streamChatCompletion";
import type { ApiKey } from "../../domain/types";
import { watchClientDisconnect } from "../streaming/clientDisconnect";
import { SseChunkSink } from "../streaming/sseChunkSink";
import { validateBody } from "../validation/validateBody";

/**
 * `POST /v1/chat/completions`, after authentication and body parsing:
 * validate → admit (model, permissions, rate, providers, hold) → serve
 * (stream or not) → the hold is released in `finally` if serving did not
 * bill it.
 */
export function chatCompletionsRoute(deps: ChatCompletionDeps): (ctx: Context) => Promise<void> {
  return async (ctx) => {
    const clientBody = ctx.request.body as Record<string, unknown>;
    const request = validateBody(ChatCompletionRequestSchema, clientBody);
    const key = ctx.state.apiKey as ApiKey;
    ctx.state.logFields = { model: request.model, keyId: key.id, stream: request.stream === true };

    const admitted = await admitChatCompletion(deps, ctx.state.requestId as string, key, request);
    ctx.set(admitted.rateLimitHeaders);
    const disconnect = watchClientDisconnect(ctx.res);
    try {
      if (request.stream) {
        const sink = new SseChunkSink(ctx.res, disconnect.signal, () => {
          ctx.status = 200;
          // From here on the response is ours to write; Koa must not touch it.
          ctx.respond = false;
        });
        await streamChatCompletion(deps, admitted, clientBody, disconnect.signal, sink);
      } else {
        // The upstream's JSON text, passed on as it came (model renamed): a string body, typed as JSON.
        ctx.body = await completeChatCompletion(deps, admitted, clientBody, disconnect.signal);
        ctx.type = "application/json";
      }
    } finally {
      disconnect.dispose();
      await abandonChatCompletion(deps, admitted);
    }
  };
}
