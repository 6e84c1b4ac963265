import { expect } from "chai";
import OpenAI from "openai";
import { type GatewayHarness, MODEL_ID, startGatewayHarness } from "./support/gatewayHarness";

describe("GET /v1/models", () => {
  let h: GatewayHarness;
  beforeEach(async () => {
    h = await startGatewayHarness({
      model: { promptRatePerMTok: 250_000n, completionRatePerMTok: 1_234_567n, contextLength: 131_072 },
    });
    h.ports.models.add({
      id: "meta-llama/Llama-3.1-8B-Instruct",
      promptRatePerMTok: 0n,
      completionRatePerMTok: 20_000_000n,
    });
  });
  afterEach(async () => {
    await h.close();
  });

  const anonymous = () =>
    new OpenAI({ baseURL: h.gateway.url, apiKey: "unused", defaultHeaders: { authorization: null } });

  it("lists every model without a key, as OpenAI model objects with pricing as exact decimal strings", async () => {
    const page = await anonymous().models.list();
    expect(page.data.map((m) => m.id).sort()).to.deep.equal([MODEL_ID, "meta-llama/Llama-3.1-8B-Instruct"].sort());
    const echo = page.data.find((m) => m.id === MODEL_ID) as any;
    expect(echo).to.deep.equal({
      id: MODEL_ID,
      object: "model",
      created: 1_700_000_000,
      owned_by: "shareai",
      context_length: 131_072,
      max_output_tokens: 1024,
      pricing: {
        prompt_per_mtok_base: "250000",
        completion_per_mtok_base: "1234567",
        prompt_per_mtok_usdc: "0.25",
        completion_per_mtok_usdc: "1.234567",
      },
    });
    const llama = page.data.find((m) => m.id.startsWith("meta-llama")) as any;
    expect(llama.pricing).to.include({ prompt_per_mtok_usdc: "0", completion_per_mtok_usdc: "20" });
  });

  it("lists only the key's allowed models with a key", async () => {
    const { secret } = h.ports.apiKeys.create({ account: "0x02", allowedModels: ["meta-llama/Llama-3.1-8B-Instruct"] });
    const page = await h.sdk({ apiKey: secret }).models.list();
    expect(page.data.map((m) => m.id)).to.deep.equal(["meta-llama/Llama-3.1-8B-Instruct"]);
    expect((await h.client.models.list()).data).to.have.length(2);
  });

  it("answers 401 to an invalid key instead of ignoring it", async () => {
    const error = await h
      .sdk({ apiKey: "sk-shareai-not-a-real-key-000000" })
      .models.list()
      .catch((e) => e);
    expect(error).to.be.instanceOf(OpenAI.AuthenticationError);
    expect(error.code).to.equal("invalid_api_key");
  });

  it("retrieves one model by id, slashes included", async () => {
    const model = await anonymous().models.retrieve("meta-llama/Llama-3.1-8B-Instruct");
    expect(model).to.include({ id: "meta-llama/Llama-3.1-8B-Instruct", object: "model" });
    const res = await fetch(`${h.gateway.url}/models/meta-llama%2FLlama-3.1-8B-Instruct`);
    expect(res.status).to.equal(200);
  });

  it("404 model_not_found for an unknown id; 403 model_not_allowed for one the key may not use", async () => {
    const missing = await anonymous()
      .models.retrieve("nope")
      .catch((e) => e);
    expect(missing).to.be.instanceOf(OpenAI.NotFoundError);
    expect(missing.code).to.equal("model_not_found");
    const { secret } = h.ports.apiKeys.create({ account: "0x03", allowedModels: [] });
    const denied = await h
      .sdk({ apiKey: secret })
      .models.retrieve(MODEL_ID)
      .catch((e) => e);
    expect(denied).to.be.instanceOf(OpenAI.PermissionDeniedError);
    expect(denied.code).to.equal("model_not_allowed");
  });
});
