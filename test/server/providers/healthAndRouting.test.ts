import { expect } from "chai";
import { HealthChecker } from "../../../server/providers/health/healthChecker";
import { UpstreamPools } from "../../../server/providers/openai-compatible/upstreamPools";
import { rankUpstreams } from "../../../server/providers/routing/rankUpstreams";
import { UpstreamStates } from "../../../server/providers/routing/upstreamStates";
import { ProviderRouter } from "../../../server/providers/routing/providerRouter";
import { createMemoryPorts } from "../../support/memoryPorts";
import { MockUpstream, type MockUpstreamOptions } from "../../support/mockUpstream";
import { eventually, upstreamTarget } from "../http/support/gatewayHarness";

const silent = { info: () => undefined, warn: () => undefined };
const timeouts = { connectMs: 500, firstByteMs: 1000, idleMs: 1000 };

describe("upstream health checks and routing", () => {
  const mocks: MockUpstream[] = [];
  let pools: UpstreamPools;

  beforeEach(() => {
    pools = new UpstreamPools(timeouts);
  });
  afterEach(async () => {
    await pools.close();
    await Promise.all(mocks.splice(0).map((m) => m.close()));
  });

  async function setup(count: number, options: MockUpstreamOptions = {}) {
    const ports = createMemoryPorts();
    ports.models.add({ id: "m" });
    for (let i = 0; i < count; i++) {
      const mock = await MockUpstream.start(options);
      mocks.push(mock);
      ports.upstreams.add(upstreamTarget(mock, i), ["m"]);
    }
    const states = new UpstreamStates({ failureThreshold: 2, cooldownMs: 60_000 });
    const checker = new HealthChecker({
      models: ports.models,
      directory: ports.upstreams,
      states,
      pools,
      intervalMs: 30,
      timeoutMs: 300,
      logger: silent,
    });
    const router = new ProviderRouter({
      directory: ports.upstreams,
      states,
      pools,
      timeouts,
      now: Date.now,
      listener: { upstreamFailed: () => undefined },
    });
    return { ports, states, checker, router };
  }

  it("marks upstreams up or down with GET {baseUrl}/models, and the router skips the down ones", async () => {
    const { ports, states, checker, router } = await setup(3);
    mocks[1].healthy = false;
    // An upstream whose key we lack answers 401: our configuration is wrong, so it is down.
    const locked = await MockUpstream.start({ apiKey: "their-key" });
    mocks.push(locked);
    ports.upstreams.add(upstreamTarget(locked, 3, { apiKey: "wrong-key" }), ["m"]);
    // Nothing listens here: connection refused.
    ports.upstreams.add(upstreamTarget(mocks[0], 4, { baseUrl: "http://127.0.0.1:9/v1" }), ["m"]);

    await checker.checkAll();
    expect(
      ["upstream-0", "upstream-1", "upstream-2", "upstream-3", "upstream-4"].map((id) => states.get(id).health)
    ).to.deep.equal(["up", "down", "up", "down", "down"]);
    expect((await router.candidatesFor("m")).map((t) => t.id).sort()).to.deep.equal(["upstream-0", "upstream-2"]);
    expect(mocks[0].requests.at(-1)).to.include({ method: "GET", path: "/v1/models" });
  });

  it("sends the upstream's key with the probe, and recovers an upstream on the next round", async () => {
    const { ports, states, checker } = await setup(0);
    const locked = await MockUpstream.start({ apiKey: "their-key" });
    mocks.push(locked);
    ports.upstreams.add(upstreamTarget(locked, 0, { apiKey: "their-key" }), ["m"]);
    locked.healthy = false;
    checker.start();
    await eventually(() => states.get("upstream-0").health === "down");
    locked.healthy = true;
    await eventually(() => states.get("upstream-0").health === "up");
    await checker.stop();
    expect(locked.requests.at(-1)?.headers.authorization).to.equal("Bearer their-key");
  });

  it("ranks by fewest requests in flight, then by lowest latency, never-measured first", async () => {
    const states = new UpstreamStates({ failureThreshold: 2, cooldownMs: 60_000 });
    const target = (id: string) => ({
      id,
      providerId: id,
      providerAddress: "0x",
      baseUrl: "http://x/v1",
      apiKey: null,
      upstreamModel: "m",
    });
    const [a, b, c, d] = ["a", "b", "c", "d"].map(target);
    states.recordLatency("a", 50);
    states.recordLatency("b", 10);
    states.recordLatency("c", 5);
    states.get("c").inFlight = 2;
    expect(rankUpstreams([a, b, c, d], states).map((t) => t.id)).to.deep.equal(["d", "b", "a", "c"]);

    states.get("b").breaker.onFailure();
    states.get("b").breaker.onFailure();
    states.setHealth("d", "down");
    expect(
      rankUpstreams([a, b, c, d], states).map((t) => t.id),
      "open circuit and down upstream left out"
    ).to.deep.equal(["a", "c"]);
  });

  it("smooths latency with an EWMA so one slow answer does not reorder everything", () => {
    const states = new UpstreamStates({ failureThreshold: 2, cooldownMs: 60_000 });
    for (let i = 0; i < 20; i++) states.recordLatency("a", 10);
    states.recordLatency("a", 1000);
    expect(states.get("a").latencyEwmaMs).to.be.within(200, 210);
  });
});
