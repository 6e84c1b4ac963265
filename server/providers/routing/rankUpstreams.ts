import type { UpstreamTarget } from "../../domain/ports";
import type { UpstreamStates } from "./upstreamStates";

/**
 * The order in which to try the routable upstreams of a model: fewest requests
 * in flight first (spreads load and avoids a saturated server), then lowest
 * recent latency. An upstream with no latency yet sorts as the fastest, so a
 * new one gets its first requests and a measured latency.
 */
export function rankUpstreams(targets: readonly UpstreamTarget[], states: UpstreamStates): UpstreamTarget[] {
  const routable = targets.filter((t) => states.isRoutable(t.id));
  if (routable.length < 2) return routable;
  return routable
    .map((target) => ({ target, state: states.get(target.id) }))
    .sort((a, b) => a.state.inFlight - b.state.inFlight || (a.state.latencyEwmaMs ?? 0) - (b.state.latencyEwmaMs ?? 0))
    .map((ranked) => ranked.target);
}
