import { expect } from "chai";
import { ConfigError, describeConfig, describeConfigMarkdown, loadConfig } from "../../../server/config";

// server/config's tests: kept beside the HTTP tests the gateway's config serves.
describe("configuration", () => {
  it("has a default for everything, so an empty environment starts", () => {
    const config = loadConfig({});
    expect(config).to.deep.include({
      port: 8080,
      host: "127.0.0.1",
      databaseUrl: null,
      redisUrl: null,
      logLevel: "info",
    });
    expect(config.upstreamTimeouts).to.deep.equal({ connectMs: 5000, firstByteMs: 60_000, idleMs: 30_000 });
  });

  it("accepts port 0 and treats empty variables as unset", () => {
    expect(loadConfig({ PORT: "0" }).port).to.equal(0);
    expect(loadConfig({ PORT: "", LOG_LEVEL: "" }).port).to.equal(8080);
  });

  it("names every bad variable, without echoing secrets", () => {
    try {
      loadConfig({
        PORT: "70000",
        UPSTREAM_CONNECT_TIMEOUT_MS: "soon",
        LOG_LEVEL: "loud",
        DATABASE_URL: "mysql://user:hunter2@db/x",
        UPSTREAM_KEY_ENCRYPTION_KEY: "tooshort",
      });
      expect.fail("should have thrown");
    } catch (error) {
      expect(error).to.be.instanceOf(ConfigError);
      const message = (error as Error).message;
      for (const name of [
        "PORT",
        "UPSTREAM_CONNECT_TIMEOUT_MS",
        "LOG_LEVEL",
        "DATABASE_URL",
        "UPSTREAM_KEY_ENCRYPTION_KEY",
      ]) {
        expect(message).to.include(name);
      }
      expect(message).to.include('(got "70000")');
      expect(message).to.not.include("hunter2");
      expect(message).to.not.include("tooshort");
    }
  });

  it("reads the upstream key encryption key as 32 bytes from hex or base64", () => {
    expect(loadConfig({ UPSTREAM_KEY_ENCRYPTION_KEY: "ab".repeat(32) }).upstreamKeyEncryptionKey).to.have.length(32);
    expect(
      loadConfig({ UPSTREAM_KEY_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString("base64") }).upstreamKeyEncryptionKey
    ).to.deep.equal(Buffer.alloc(32, 9));
    expect(() => loadConfig({ UPSTREAM_KEY_ENCRYPTION_KEY: Buffer.alloc(16).toString("base64") })).to.throw(
      ConfigError
    );
  });

  it("refuses a hold TTL that a request could outlive while waiting for its upstream", () => {
    expect(() => loadConfig({ HOLD_TTL_MS: "30000", UPSTREAM_FIRST_BYTE_TIMEOUT_MS: "60000" })).to.throw(/HOLD_TTL_MS/);
  });

  it("describes every variable for the README", () => {
    const names = describeConfig().map((v) => v.name);
    expect(names).to.include.members([
      "PORT",
      "HOST",
      "DATABASE_URL",
      "PG_DATA_DIR",
      "REDIS_URL",
      "LOG_LEVEL",
      "HOLD_TTL_MS",
      "PUBLIC_BASE_URL",
    ]);
    expect(describeConfig().every((v) => v.description.length > 10)).to.equal(true);
    expect(describeConfigMarkdown()).to.match(/^\| Variable \| Default \| Meaning \|/);
  });
});
