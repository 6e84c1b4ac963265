import type {
  ChatUpstreamRouter,
  UpstreamChatRequest,
  UpstreamChunkStream,
  UpstreamCompletion,
} from "../../domain/chat/chatUpstream";
import type { UpstreamDirectory, UpstreamTarget } from "../../domain/ports";
import { completeWithFailover } from "./completeWithFailover";
import type { UpstreamFailureListener } from "./failoverOutcome";
import { rankUpstreams } from "./rankUpstreams";
import { streamWithFailover } from "./streamWithFailover";
import type { AttemptDeps } from "./upstreamAttempt";

export interface ProviderRouterDeps extends AttemptDeps {
  directory: UpstreamDirectory;
  listener: UpstreamFailureListener;
}

/** Routes chat completions to OpenAI-compatible upstreams: the domain's ChatUpstreamRouter. */
export class ProviderRouter implements ChatUpstreamRouter {
  constructor(private readonly deps: ProviderRouterDeps) {}

  async candidatesFor(modelId: string): Promise<UpstreamTarget[]> {
    return rankUpstreams(await this.deps.directory.upstreamsFor(modelId), this.deps.states);
  }

  complete(request: UpstreamChatRequest): Promise<UpstreamCompletion> {
    return completeWithFailover(request, this.deps, this.deps.listener);
  }

  stream(request: UpstreamChatRequest): Promise<UpstreamChunkStream> {
    return streamWithFailover(request, this.deps, this.deps.listener);
  }
}
