import { expect } from "chai";
import type { Database } from "../../../server/persistence";
import { expectRejection, openTestDatabase, randomAddress, type OpenedTestDatabase } from "./fixtures";

const LLAMA = {
  id: "llama-3.1-8b",
  ownedBy: "meta",
  created: 1_721_692_800,
  contextLength: 131_072,
  maxOutputTokens: 4_096,
  promptRatePerMTok: 50_000n,
  completionRatePerMTok: 80_000n,
};

describe("models, providers and upstreams", () => {
  let opened: OpenedTestDatabase;
  let db: Database;

  before(async () => {
    opened = await openTestDatabase();
    db = opened.db;
    await db.models.upsert(LLAMA);
    await db.models.upsert({ ...LLAMA, id: "qwen-2.5-7b", ownedBy: "alibaba" });
  });

  after(async () => {
    await opened.closeAll();
  });

  describe("the model catalog", () => {
    it("lists enabled models with their rates, and hides disabled ones", async () => {
      await db.models.upsert({ ...LLAMA, id: "retired", enabled: false });
      expect((await db.modelCatalog.list()).map((model) => model.id)).to.deep.equal(["llama-3.1-8b", "qwen-2.5-7b"]);
      expect(await db.modelCatalog.get("llama-3.1-8b")).to.deep.equal(LLAMA);
      expect(await db.modelCatalog.get("retired")).to.equal(null);
      expect(await db.modelCatalog.get("no-such-model")).to.equal(null);
      expect((await db.models.list()).find((model) => model.id === "retired")).to.include({ enabled: false });
    });

    it("takes new rates on upsert and can disable a model", async () => {
      await db.models.upsert({ ...LLAMA, id: "repriced" });
      await db.models.upsert({ ...LLAMA, id: "repriced", promptRatePerMTok: 1n, completionRatePerMTok: 2n });
      expect(await db.modelCatalog.get("repriced")).to.include({ promptRatePerMTok: 1n, completionRatePerMTok: 2n });
      expect(await db.models.setEnabled("repriced", false)).to.equal(true);
      expect(await db.modelCatalog.get("repriced")).to.equal(null);
      expect(await db.models.setEnabled("never-existed", false)).to.equal(false);
    });

    it("refuses impossible models", async () => {
      for (const bad of [{ contextLength: 0 }, { maxOutputTokens: 1.5 }, { promptRatePerMTok: -1n }, { id: "" }]) {
        await db.models.upsert({ ...LLAMA, ...bad }).then(
          () => expect.fail("accepted an impossible model"),
          (error: Error) => expect(error).to.be.instanceOf(Error),
        );
      }
    });
  });

  describe("the upstream directory", () => {
    it("has no upstream before one is added, and then serves it with its key decrypted", async () => {
      const fresh = await opened.openInstance();
      expect(await fresh.upstreamDirectory.hasAnyUpstream()).to.equal(false);
      expect(await fresh.upstreamDirectory.upstreamsFor("llama-3.1-8b")).to.deep.equal([]);

      const payout = randomAddress();
      const provider = await db.providers.create({
        payoutAddress: payout.toUpperCase().replace("0X", "0x"),
        name: "GPU farm",
      });
      expect(provider).to.include({ payoutAddress: payout, name: "GPU farm" });
      const upstream = await db.providers.addUpstream({
        providerId: provider.id,
        baseUrl: "http://127.0.0.1:8000/v1/",
        apiKey: "sk-upstream-very-secret",
        models: { "llama-3.1-8b": "meta-llama/Llama-3.1-8B-Instruct" },
      });
      expect(upstream).to.include({ baseUrl: "http://127.0.0.1:8000/v1", hasApiKey: true, enabled: true });

      expect(await fresh.upstreamDirectory.hasAnyUpstream()).to.equal(true);
      expect(await fresh.upstreamDirectory.upstreamsFor("llama-3.1-8b")).to.deep.equal([
        {
          id: upstream.id,
          providerId: provider.id,
          providerAddress: payout,
          baseUrl: "http://127.0.0.1:8000/v1",
          apiKey: "sk-upstream-very-secret",
          upstreamModel: "meta-llama/Llama-3.1-8B-Instruct",
        },
      ]);
      expect(await fresh.upstreamDirectory.upstreamsFor("qwen-2.5-7b")).to.deep.equal([]);

      const [row] = await db.dataSource.query("SELECT api_key_ciphertext FROM upstreams WHERE id = $1", [upstream.id]);
      expect((row.api_key_ciphertext as Buffer).includes(Buffer.from("very-secret"))).to.equal(false);
    });

    it("leaves out disabled upstreams but still counts them as configured", async () => {
      const provider = await db.providers.create({ payoutAddress: randomAddress(), name: "part-time" });
      const upstream = await db.providers.addUpstream({
        providerId: provider.id,
        baseUrl: "https://inference.example/v1",
        models: { "qwen-2.5-7b": "Qwen/Qwen2.5-7B-Instruct" },
      });
      expect((await db.upstreamDirectory.upstreamsFor("qwen-2.5-7b")).map((target) => target.apiKey)).to.deep.equal([
        null,
      ]);
      expect(await db.providers.setUpstreamEnabled(upstream.id, false)).to.equal(true);
      expect(await db.upstreamDirectory.upstreamsFor("qwen-2.5-7b")).to.deep.equal([]);
      expect(await db.upstreamDirectory.hasAnyUpstream()).to.equal(true);
      const listed = (await db.providers.list()).find((each) => each.id === provider.id);
      expect(listed!.upstreams).to.have.length(1);
      expect(listed!.upstreams[0]).to.include({ enabled: false, hasApiKey: false });
      expect(listed!.upstreams[0].models).to.deep.equal({ "qwen-2.5-7b": "Qwen/Qwen2.5-7B-Instruct" });
      expect(await db.providers.removeUpstream(upstream.id)).to.equal(true);
      expect(await db.providers.removeUpstream(upstream.id)).to.equal(false);
    });

    it("refuses a second provider at the same payout address, unknown models and bad URLs", async () => {
      const payoutAddress = randomAddress();
      const provider = await db.providers.create({ payoutAddress, name: "first" });
      await expectRejection(db.providers.create({ payoutAddress, name: "second" }), /already paid/);
      const upstream = { providerId: provider.id, baseUrl: "http://127.0.0.1:9/v1", models: { "gpt-9": "gpt-9" } };
      await expectRejection(db.providers.addUpstream(upstream), /unknown models: gpt-9/);
      await expectRejection(db.providers.addUpstream({ ...upstream, models: {} }), /at least one model/);
      await expectRejection(
        db.providers.addUpstream({ ...upstream, baseUrl: "ftp://x/v1", models: { [LLAMA.id]: "x" } }),
        /http/,
      );
      await expectRejection(
        db.providers.addUpstream({
          ...upstream,
          providerId: "00000000-0000-4000-8000-000000000000",
          models: { [LLAMA.id]: "x" },
        }),
        /no provider/,
      );
    });

    it("needs the encryption key to store or read an upstream key", async () => {
      const keyless = await opened.openInstance({ upstreamKeyEncryptionKey: undefined });
      const provider = await keyless.providers.create({ payoutAddress: randomAddress(), name: "keyless" });
      await expectRejection(
        keyless.providers.addUpstream({
          providerId: provider.id,
          baseUrl: "http://x/v1",
          apiKey: "k",
          models: { [LLAMA.id]: "x" },
        }),
        /encryption key/,
      );
      await expectRejection(keyless.upstreamDirectory.upstreamsFor(LLAMA.id), /no encryption key is configured/);
      const wrongKey = await opened.openInstance({ upstreamKeyEncryptionKey: Buffer.alloc(32, 9) });
      await expectRejection(wrongKey.upstreamDirectory.upstreamsFor(LLAMA.id), /authenticate/);
    });
  });
});
