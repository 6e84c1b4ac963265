import { expect } from "chai";
import { loadConfig } from "../../../server/config";
import { loadWebConfig } from "../../../server/web";
import { amountFromBase, amountFromMicros } from "../../../server/web/http/amount";
import { resolvePublicSite } from "../../../server/web/publicSite";
import { decodeCursor, encodeCursor } from "../../../server/web/usage/usageQuery";
import { sdkSnippets } from "../../../server/web/keys/sdkSnippets";

describe("web API building blocks", () => {
  it("writes amounts as exact decimal strings in micros, base units and USDC", () => {
    expect(amountFromMicros(0n)).to.deep.equal({ micros: "0", base: "0", usdc: "0" });
    expect(amountFromMicros(1n)).to.deep.equal({ micros: "1", base: "0.000001", usdc: "0.000000000001" });
    expect(amountFromBase(1_500_000n)).to.deep.equal({ micros: "1500000000000", base: "1500000", usdc: "1.5" });
    const huge = 2n ** 200n;
    expect(amountFromBase(huge).base).to.equal(huge.toString());
  });

  it("derives the site from PUBLIC_BASE_URL, else HOST:PORT, and needs one of them on port 0", () => {
    const site = resolvePublicSite(loadConfig({ PUBLIC_BASE_URL: "https://shareai.example/gateway/" }));
    expect(site).to.deep.equal({
      origin: "https://shareai.example",
      host: "shareai.example",
      scheme: "https",
      secure: true,
      apiBaseUrl: "https://shareai.example/gateway/v1",
    });
    expect(resolvePublicSite(loadConfig({ HOST: "0.0.0.0", PORT: "8080" })).origin).to.equal("http://127.0.0.1:8080");
    expect(resolvePublicSite(loadConfig({ PUBLIC_BASE_URL: "http://localhost:80" })).host).to.equal("localhost");
    expect(() => resolvePublicSite(loadConfig({ PORT: "0" }))).to.throw(/PUBLIC_BASE_URL/);
    expect(resolvePublicSite(loadConfig({ PORT: "0" }), "http://127.0.0.1:3000").host).to.equal("127.0.0.1:3000");
  });

  it("round-trips cursors and refuses anything else", () => {
    const position = { createdAt: "2026-01-02T03:04:05.123456Z", requestId: "req-1" };
    expect(decodeCursor(encodeCursor(position))).to.deep.equal(position);
    expect(decodeCursor("not base64 json")).to.equal(null);
    expect(decodeCursor(Buffer.from('{"a":1}').toString("base64url"))).to.equal(null);
    expect(decodeCursor(Buffer.from('["2026-01-02", "x"]').toString("base64url"))).to.equal(null);
  });

  it("reads its variables with defaults, and refuses bad ones", () => {
    expect(loadWebConfig({})).to.deep.equal({
      chainId: 31337,
      sessionTtlMs: 604_800_000,
      nonceTtlMs: 600_000,
      signInAttemptsPerMinute: 60,
      providerUpstreamAllowPrivate: true,
    });
    expect(loadWebConfig({ PROVIDER_UPSTREAM_ALLOW_PRIVATE: "false" })).to.include({ providerUpstreamAllowPrivate: false });
    expect(() => loadWebConfig({ PROVIDER_UPSTREAM_ALLOW_PRIVATE: "maybe" })).to.throw(/PROVIDER_UPSTREAM_ALLOW_PRIVATE/);
    expect(loadWebConfig({ CHAIN_ID: "8453", SESSION_TTL_MS: "3600000" })).to.include({
      chainId: 8453,
      sessionTtlMs: 3_600_000,
    });
    expect(() => loadWebConfig({ CHAIN_ID: "base" })).to.throw(/CHAIN_ID/);
    expect(() => loadConfig({ SIWE_NONCE_TTL_MS: "5" })).to.throw(/SIWE_NONCE_TTL_MS/);
  });

  it("quotes the secret safely in every snippet", () => {
    const snippets = sdkSnippets("https://x.example/v1", "sk-shareai-abc", "org/model's-name");
    expect(snippets.python).to.include('api_key="sk-shareai-abc"');
    expect(snippets.curl).to.include(`'{"model":"org/model'\\''s-name"`);
  });
});
