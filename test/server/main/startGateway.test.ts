import { createServer, type Server } from "node:net";
import { expect } from "chai";
import OpenAI from "openai";
import pino from "pino";
import { issueDemoAccess, DEMO_ACCOUNT } from "../../../server/demo/demoAccount";
import { DEMO_MODEL } from "../../../server/demo/demoModel";
import { registerDemoProvider } from "../../../server/demo/demoProvider";
import { startEchoUpstream, type EchoUpstream } from "../../../server/demo/echoUpstream";
import { startGateway } from "../../../server/main/startGateway";
import { openDatabase } from "../../../server/persistence";
import { createTestDatabase, type TestDatabase } from "../../support/database";
import { testConfig } from "./support/testConfig";

const silent = pino({ level: "silent" });

/** Active handles and requests by type (`TCPServerWrap`, `Timeout`, …), to compare before and after. */
function resourceCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

describe("startGateway (composition root)", () => {
  let testDatabase: TestDatabase;
  let echo: EchoUpstream;
  let apiKey: string;

  before(async () => {
    testDatabase = await createTestDatabase();
    echo = await startEchoUpstream({ wordDelayMs: 0 });
    const seed = await openDatabase({ databaseUrl: testDatabase.url });
    try {
      await registerDemoProvider(seed, echo.baseUrl);
      apiKey = (await issueDemoAccess(seed)).apiKey;
    } finally {
      await seed.close();
    }
  });
  after(async () => {
    await echo?.close();
    await testDatabase?.drop();
  });

  it("serves the official SDK over the database, records every usage and releases every hold; stop() leaves nothing open", async () => {
    // After a turn of the event loop, so mocha's own timer for this test is counted on both sides.
    await new Promise((resolve) => setImmediate(resolve));
    const before = resourceCounts();
    const gateway = await startGateway(testConfig(testDatabase.url), { logger: silent });
    const client = new OpenAI({ baseURL: gateway.url, apiKey, maxRetries: 0 });
    try {
      expect(gateway.url).to.equal(`http://127.0.0.1:${gateway.port}/v1`);
      expect((await client.models.list()).data.map((m) => m.id)).to.deep.equal([DEMO_MODEL.id]);

      const completion = await client.chat.completions.create({
        model: DEMO_MODEL.id,
        messages: [{ role: "user", content: "Hello through the gateway" }],
      });
      expect(completion.choices[0].message.content).to.equal("You said: Hello through the gateway");

      let streamed = "";
      let streamUsage: OpenAI.CompletionUsage | undefined;
      for await (const chunk of await client.chat.completions.create({
        model: DEMO_MODEL.id,
        messages: [{ role: "user", content: "and now a stream" }],
        stream: true,
        stream_options: { include_usage: true },
      })) {
        streamed += chunk.choices[0]?.delta?.content ?? "";
        streamUsage = chunk.usage ?? streamUsage;
      }
      expect(streamed).to.equal("You said: and now a stream");

      // The usage is committed before the response ends: no waiting needed.
      const records: {
        prompt_tokens: string;
        completion_tokens: string;
        cost_micros: string;
        estimated: boolean;
        outcome: string;
        stream: boolean;
      }[] = await gateway.database.dataSource.query(
        `SELECT prompt_tokens, completion_tokens, cost_micros, estimated, outcome, stream
           FROM usage_records WHERE account = $1 ORDER BY created_at`,
        [DEMO_ACCOUNT],
      );
      const expected = [
        { usage: completion.usage!, stream: false },
        { usage: streamUsage!, stream: true },
      ];
      expect(records).to.have.length(2);
      records.forEach((record, i) => {
        const { usage, stream } = expected[i];
        expect(Number(record.prompt_tokens)).to.equal(usage.prompt_tokens);
        expect(Number(record.completion_tokens)).to.equal(usage.completion_tokens);
        expect(BigInt(record.cost_micros)).to.equal(
          BigInt(usage.prompt_tokens) * DEMO_MODEL.promptRatePerMTok +
            BigInt(usage.completion_tokens) * DEMO_MODEL.completionRatePerMTok,
        );
        expect(record).to.deep.include({ estimated: false, outcome: "completed", stream });
      });

      const [{ holds }] = await gateway.database.dataSource.query("SELECT count(*)::int AS holds FROM holds");
      expect(holds).to.equal(0);
      const balance = (await gateway.database.accounts.getBalance(DEMO_ACCOUNT))!;
      expect(balance.heldMicros).to.equal(0n);
      expect(balance.unsettledMicros).to.equal(records.reduce((sum, r) => sum + BigInt(r.cost_micros), 0n));
    } finally {
      await gateway.stop();
    }

    // Node's HTTP Date-header cache keeps an (unref'd) timer for up to a second after the last response.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const after = resourceCounts();
    const leaked = [...after].filter(([type, count]) => count > (before.get(type) ?? 0));
    expect(leaked, `still open after stop(): ${JSON.stringify(leaked)}`).to.deep.equal([]);
    // Stopping twice is harmless.
    await gateway.stop();
  });

  it("answers /readyz from the database and uses Redis for rate limits when REDIS_URL is set", async function () {
    const redisUrl = process.env.REDIS_URL;
    const gateway = await startGateway(testConfig(testDatabase.url, redisUrl ? { REDIS_URL: redisUrl } : {}), {
      logger: silent,
    });
    try {
      expect(gateway.rateLimitBackend).to.equal(redisUrl ? "redis" : "memory");
      const ready = await fetch(gateway.url.replace(/\/v1$/, "/readyz"));
      expect(ready.status).to.equal(200);
    } finally {
      await gateway.stop();
    }
  });

  it("refuses to start on a port in use, before it touches the database", async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      // An unreachable database would fail later, and differently: the port is checked first.
      const config = testConfig("postgres://nobody@127.0.0.1:1/none", { PORT: String(port) });
      await startGateway(config, { logger: silent }).then(
        () => expect.fail("should not start"),
        (error: Error) => expect(error.message).to.match(new RegExp(`port ${port} on 127.0.0.1 is already in use`)),
      );
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
