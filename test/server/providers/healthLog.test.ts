import net, { type AddressInfo } from "node:net";
import { expect } from "chai";
import { HealthChecker } from "../../../server/providers/health/healthChecker";
import type { UpstreamHealthRecord } from "../../../server/providers/health/upstreamHealthLog";
import { UpstreamPools } from "../../../server/providers/openai-compatible/upstreamPools";
import { UpstreamStates } from "../../../server/providers/routing/upstreamStates";
import { createMemoryPorts } from "../../support/memoryPorts";
import { MockUpstream } from "../../support/mockUpstream";
import { upstreamTarget } from "../http/support/gatewayHarness";

const timeouts = { connectMs: 500, firstByteMs: 1000, idleMs: 1000 };

/** The periodic health checker writes every result to its health log (Postgres: the upstream's row). */
describe("upstream health checks, recorded", () => {
  const mocks: MockUpstream[] = [];
  let pools: UpstreamPools;

  beforeEach(() => {
    pools = new UpstreamPools(timeouts);
  });
  afterEach(async () => {
    await pools.close();
    await Promise.all(mocks.splice(0).map((m) => m.close()));
  });

  async function setup(log: (id: string, check: UpstreamHealthRecord) => Promise<void>, warnings: string[] = []) {
    const ports = createMemoryPorts();
    ports.models.add({ id: "m" });
    const healthy = await MockUpstream.start();
    const sick = await MockUpstream.start();
    mocks.push(healthy, sick);
    sick.healthy = false;
    ports.upstreams.add(upstreamTarget(healthy, 0), ["m"]);
    ports.upstreams.add(upstreamTarget(sick, 1), ["m"]);
    ports.upstreams.add(upstreamTarget(healthy, 2, { baseUrl: "http://127.0.0.1:9/v1" }), ["m"]);
    const states = new UpstreamStates({ failureThreshold: 2, cooldownMs: 60_000 });
    const checker = new HealthChecker({
      models: ports.models,
      directory: ports.upstreams,
      states,
      pools,
      intervalMs: 60_000,
      timeoutMs: 300,
      logger: { info: () => undefined, warn: (_fields, message) => void warnings.push(message) },
      healthLog: { record: log },
    });
    return { checker, states };
  }

  it("records each check once: up or down, when, how long, the HTTP status and why", async () => {
    const records = new Map<string, UpstreamHealthRecord[]>();
    const started = Date.now();
    const { checker } = await setup(async (id, check) => void records.set(id, [...(records.get(id) ?? []), check]));
    await checker.checkAll();
    expect([...records.keys()].sort()).to.deep.equal(["upstream-0", "upstream-1", "upstream-2"]);
    const [up] = records.get("upstream-0")!;
    const [down] = records.get("upstream-1")!;
    const [refused] = records.get("upstream-2")!;
    expect(up).to.deep.include({ up: true, httpStatus: 200, error: null });
    expect(down).to.deep.include({ up: false, httpStatus: 503, error: "GET /models answered HTTP 503." });
    expect(refused).to.deep.include({ up: false, httpStatus: null, error: "Could not connect: ECONNREFUSED." });
    for (const check of [up, down, refused]) {
      expect(check.checkedAt.getTime()).to.be.within(started, Date.now());
      expect(check.latencyMs).to.be.within(0, Date.now() - started);
    }
    await checker.checkAll();
    expect(records.get("upstream-0")).to.have.length(2);
  });

  it("says a silent upstream gave no answer in time", async () => {
    const records: UpstreamHealthRecord[] = [];
    const { checker } = await setup(async (id, check) => void (id === "upstream-0" && records.push(check)));
    // Accepts the connection and never answers.
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const port = (silent.address() as AddressInfo).port;
      const target = upstreamTarget(mocks[0], 0, { baseUrl: `http://127.0.0.1:${port}/v1` });
      expect(await checker.checkOne(target)).to.equal("down");
      expect(records[0]).to.deep.include({ up: false, httpStatus: null, error: "No answer within 0.3 s." });
    } finally {
      silent.close();
    }
  });

  it("routes on the result even when it cannot be recorded, and says so", async () => {
    const warnings: string[] = [];
    const { checker, states } = await setup(async () => {
      throw new Error("database down");
    }, warnings);
    await checker.checkAll();
    expect(["upstream-0", "upstream-1", "upstream-2"].map((id) => states.get(id).health)).to.deep.equal(["up", "down", "down"]);
    expect(warnings.filter((message) => message === "health check: cannot record the result")).to.have.length(3);
  });
});
