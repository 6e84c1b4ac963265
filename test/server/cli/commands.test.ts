import { expect } from "chai";
import { hashApiKey, openDatabase, type Database } from "../../../server/persistence";
import { createTestDatabase, type TestDatabase } from "../../support/database";
import { runJson, runShareai } from "./support/runInProcess";

const ENCRYPTION_KEY = "ab".repeat(32);
const ACCOUNT = "0x00000000000000000000000000000000000000Cc";
const PROVIDER = "0x00000000000000000000000000000000000000bb";

describe("shareai admin commands (in-process, against a test database)", () => {
  let testDatabase: TestDatabase;
  let db: Database;
  let env: Record<string, string>;

  before(async () => {
    testDatabase = await createTestDatabase();
    env = { DATABASE_URL: testDatabase.url, LOG_LEVEL: "silent" };
    db = await openDatabase({
      databaseUrl: testDatabase.url,
      upstreamKeyEncryptionKey: Buffer.from(ENCRYPTION_KEY, "hex"),
    });
  });
  after(async () => {
    await db?.close();
    await testDatabase?.drop();
  });

  /** A failed command: exit code 1 and exactly one line on stderr, no stack trace. */
  async function expectFailure(argv: string[], message: RegExp, runEnv = env): Promise<void> {
    const run = await runShareai(runEnv, ...argv);
    expect(run.code, run.stderr).to.equal(1);
    const lines = run.stderr
      .trimEnd()
      .split("\n")
      .filter((line) => !line.startsWith("(add --help"));
    expect(lines, run.stderr).to.have.length(1);
    expect(lines[0]).to.match(/^error: /);
    expect(lines[0]).to.match(message);
    expect(run.stderr).to.not.match(/\n\s+at /);
  }

  describe("models", () => {
    it("creates a model from USDC or base-unit rates, with defaults for its limits", async () => {
      const run = await runShareai(
        env,
        "models",
        "set",
        "acme/llama-3-8b",
        "--prompt-rate",
        "0.25",
        "--completion-rate",
        "1000000",
      );
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.include("Created model acme/llama-3-8b");
      expect(run.stdout).to.include("0.25 USDC (250000 base units) per 1M tokens");
      expect(await db.models.get("acme/llama-3-8b")).to.deep.include({
        ownedBy: "acme",
        promptRatePerMTok: 250_000n,
        completionRatePerMTok: 1_000_000n,
        contextLength: 8192,
        maxOutputTokens: 4096,
        enabled: true,
      });
    });

    it("changes only what is given on an existing model", async () => {
      const before = (await db.models.get("acme/llama-3-8b"))!;
      const json = await runJson(
        env,
        "models",
        "set",
        "acme/llama-3-8b",
        "--completion-rate",
        "2usdc",
        "--max-output",
        "1024",
        "--owned-by",
        "Acme",
      );
      expect(json).to.deep.include({
        completionRatePerMTok: "2000000",
        completionRatePerMTokUsdc: "2",
        promptRatePerMTok: "250000",
      });
      expect(await db.models.get("acme/llama-3-8b")).to.deep.include({
        promptRatePerMTok: 250_000n,
        completionRatePerMTok: 2_000_000n,
        maxOutputTokens: 1024,
        contextLength: 8192,
        ownedBy: "Acme",
        created: before.created,
      });
    });

    it("lists models as a table or as JSON with exact rates", async () => {
      const table = await runShareai(env, "models", "list");
      expect(table.stdout).to.match(/^ID\s+STATUS\s+PROMPT USDC\/1M/);
      expect(table.stdout).to.match(/acme\/llama-3-8b\s+enabled\s+0\.25\s+2\s+8192\s+1024\s+Acme/);
      const json = await runJson(env, "models", "list");
      expect(json).to.deep.equal([
        {
          id: "acme/llama-3-8b",
          ownedBy: "Acme",
          created: (await db.models.get("acme/llama-3-8b"))!.created,
          contextLength: 8192,
          maxOutputTokens: 1024,
          promptRatePerMTok: "250000",
          completionRatePerMTok: "2000000",
          enabled: true,
          promptRatePerMTokUsdc: "0.25",
          completionRatePerMTokUsdc: "2",
        },
      ]);
    });

    it("disables and enables a model", async () => {
      expect((await runShareai(env, "models", "disable", "acme/llama-3-8b")).stdout).to.include("disabled");
      expect((await db.models.get("acme/llama-3-8b"))!.enabled).to.equal(false);
      await runShareai(env, "models", "enable", "acme/llama-3-8b");
      expect((await db.models.get("acme/llama-3-8b"))!.enabled).to.equal(true);
    });

    it("refuses incomplete or impossible models, and bad amounts, in one line", async () => {
      await expectFailure(
        ["models", "set", "new/model", "--prompt-rate", "1"],
        /is new: give both --prompt-rate and --completion-rate/,
      );
      await expectFailure(
        [
          "models",
          "set",
          "new/model",
          "--prompt-rate",
          "1",
          "--completion-rate",
          "1",
          "--context-length",
          "100",
          "--max-output",
          "200",
        ],
        /--max-output \(200\) cannot exceed the context length \(100\)/,
      );
      await expectFailure(
        ["models", "set", "new/model", "--prompt-rate", "0.1234567", "--completion-rate", "1"],
        /option '--prompt-rate <rate>' argument '0.1234567' is invalid\. USDC has 6 decimals/,
      );
      await expectFailure(
        ["models", "set", "new/model", "--prompt-rate", "-1", "--completion-rate", "1"],
        /cannot be negative/,
      );
      await expectFailure(["models", "disable", "no/such-model"], /no model "no\/such-model"/);
      expect(await db.models.get("new/model")).to.equal(null);
    });
  });

  describe("providers and upstreams", () => {
    let providerId: string;

    it("adds a provider and refuses a second one at the same payout address", async () => {
      const json = await runJson(env, "providers", "add", "--address", PROVIDER, "--name", "Acme GPUs");
      providerId = json.id;
      expect(json).to.deep.include({ payoutAddress: PROVIDER, name: "Acme GPUs" });
      await expectFailure(["providers", "add", "--address", PROVIDER, "--name", "again"], /already paid at/);
      await expectFailure(["providers", "add", "--address", "0x123", "--name", "x"], /Not an Ethereum address/);
    });

    it("adds an upstream by the provider's address or id, with model names mapped", async () => {
      const run = await runShareai(
        env,
        "upstreams",
        "add",
        "--provider",
        PROVIDER,
        "--base-url",
        "http://127.0.0.1:8000/v1/",
        "--model",
        "acme/llama-3-8b=meta-llama/Meta-Llama-3-8B-Instruct",
      );
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.include("acme/llama-3-8b (as meta-llama/Meta-Llama-3-8B-Instruct)");
      const [provider] = await db.providers.list();
      expect(provider.upstreams).to.have.length(1);
      expect(provider.upstreams[0]).to.deep.include({
        baseUrl: "http://127.0.0.1:8000/v1",
        hasApiKey: false,
        enabled: true,
        models: { "acme/llama-3-8b": "meta-llama/Meta-Llama-3-8B-Instruct" },
      });
      const byId = await runJson(
        env,
        "upstreams",
        "add",
        "--provider",
        providerId,
        "--base-url",
        "http://127.0.0.1:8001",
        "--model",
        "acme/llama-3-8b",
        "--disabled",
      );
      expect(byId).to.deep.include({ enabled: false, models: { "acme/llama-3-8b": "acme/llama-3-8b" } });
    });

    it("stores an upstream key only with an encryption key, sealed so the gateway can open it", async () => {
      const args = [
        "upstreams",
        "add",
        "--provider",
        PROVIDER,
        "--base-url",
        "https://api.example.com/v1",
        "--model",
        "acme/llama-3-8b",
      ];
      await expectFailure([...args, "--api-key", "sk-upstream-secret"], /needs UPSTREAM_KEY_ENCRYPTION_KEY/);
      const keyed = { ...env, UPSTREAM_KEY_ENCRYPTION_KEY: ENCRYPTION_KEY, MY_UPSTREAM_KEY: "sk-from-env" };
      const fromFlag = await runJson(keyed, ...args, "--api-key", "sk-upstream-secret");
      const fromEnv = await runJson(keyed, ...args, "--api-key-env", "MY_UPSTREAM_KEY");
      expect(fromFlag.hasApiKey).to.equal(true);
      const targets = await db.upstreamDirectory.upstreamsFor("acme/llama-3-8b");
      expect(targets.find((t) => t.id === fromFlag.id)!.apiKey).to.equal("sk-upstream-secret");
      expect(targets.find((t) => t.id === fromEnv.id)!.apiKey).to.equal("sk-from-env");
      await expectFailure([...args, "--api-key-env", "UNSET_VARIABLE"], /UNSET_VARIABLE is not set/, keyed);
      await runShareai(env, "upstreams", "remove", fromFlag.id);
      await runShareai(env, "upstreams", "remove", fromEnv.id);
    });

    it("refuses an upstream for an unknown model or provider", async () => {
      await expectFailure(
        ["upstreams", "add", "--provider", PROVIDER, "--base-url", "http://x/v1", "--model", "nope"],
        /unknown models: nope/,
      );
      await expectFailure(
        [
          "upstreams",
          "add",
          "--provider",
          "0x00000000000000000000000000000000000000ee",
          "--base-url",
          "http://x/v1",
          "--model",
          "acme/llama-3-8b",
        ],
        /no provider/,
      );
      await expectFailure(
        ["upstreams", "add", "--provider", PROVIDER, "--base-url", "http://x/v1", "--model", "a", "--model", "a=b"],
        /Model a is given twice/,
      );
    });

    it("lists providers with their upstreams, and disables, enables and removes an upstream", async () => {
      const listed = await runShareai(env, "providers", "list");
      expect(listed.stdout).to.include("Acme GPUs");
      expect(listed.stdout).to.include(
        "http://127.0.0.1:8000/v1  [enabled, no key]  models: acme/llama-3-8b=meta-llama/Meta-Llama-3-8B-Instruct",
      );
      const upstreams = await runJson(env, "upstreams", "list");
      expect(upstreams).to.have.length(2);
      const id: string = upstreams[0].id;
      await runShareai(env, "upstreams", "disable", id);
      expect((await db.providers.list())[0].upstreams[0].enabled).to.equal(false);
      await runShareai(env, "upstreams", "enable", id);
      expect((await db.providers.list())[0].upstreams[0].enabled).to.equal(true);
      expect((await runShareai(env, "upstreams", "remove", upstreams[1].id)).stdout).to.include("removed");
      expect((await db.providers.list())[0].upstreams).to.have.length(1);
      await expectFailure(["upstreams", "remove", upstreams[1].id], /no upstream/);
    });
  });

  describe("accounts", () => {
    it("sets a balance in USDC or base units, keeping thawing unless given, and says no chain was touched", async () => {
      const run = await runShareai(env, "accounts", "set-balance", ACCOUNT, "--available", "12.5", "--thawing", "1000");
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.include("12.5 USDC (12500000 base units)");
      expect(run.stdout).to.include("No chain was touched");
      await runShareai(env, "accounts", "set-balance", ACCOUNT, "--available", "20000000");
      expect(await db.accounts.getBalance(ACCOUNT)).to.deep.include({
        account: ACCOUNT.toLowerCase(),
        onchainAvailableBase: 20_000_000n,
        onchainThawingBase: 1000n,
        spendableMicros: 20_000_000n * 1_000_000n,
      });
    });

    it("lists and shows accounts", async () => {
      const list = await runJson(env, "accounts", "list");
      expect(list).to.deep.equal([
        {
          account: ACCOUNT.toLowerCase(),
          onchainAvailableBase: "20000000",
          onchainThawingBase: "1000",
          unsettledMicros: "0",
          heldMicros: "0",
          spendableMicros: "20000000000000",
          updatedAt: list[0].updatedAt,
        },
      ]);
      const shown = await runShareai(env, "accounts", "show", ACCOUNT);
      expect(shown.stdout).to.include("spendable             20 USDC");
      await expectFailure(["accounts", "show", "0x00000000000000000000000000000000000000ee"], /no account/);
      await expectFailure(["accounts", "set-balance", ACCOUNT, "--available", "1.5.0"], /argument '1.5.0' is invalid/);
    });
  });

  describe("keys", () => {
    let keyId: string;

    it("creates a key, prints its secret once, and stores only its hash", async () => {
      const run = await runShareai(
        env,
        "keys",
        "create",
        "--account",
        ACCOUNT,
        "--name",
        "ci",
        "--models",
        "acme/llama-3-8b",
        "--daily-cap",
        "5usdc",
        "--total-cap",
        "100000000",
        "--rpm",
        "60",
        "--tpm",
        "100_000",
      );
      expect(run.code, run.stderr).to.equal(0);
      const secret = /sk-shareai-[A-Za-z0-9_-]{43}/.exec(run.stdout)![0];
      expect(run.stdout).to.include("only time the key is shown");
      const key = (await db.apiKeyStore.findByHash(hashApiKey(secret)))!;
      keyId = key.id;
      expect(key).to.deep.include({
        account: ACCOUNT.toLowerCase(),
        name: "ci",
        allowedModels: ["acme/llama-3-8b"],
        dailySpendCapBase: 5_000_000n,
        totalSpendCapBase: 100_000_000n,
        requestsPerMinute: 60,
        tokensPerMinute: 100_000,
      });
      const rows: { n: number }[] = await db.dataSource.query(
        "SELECT count(*)::int AS n FROM api_keys WHERE secret_sha256 = $1 OR prefix = $2",
        [hashApiKey(secret), secret],
      );
      expect(rows[0].n).to.equal(1);
      expect((await runShareai(env, "keys", "list")).stdout).to.not.include(secret);
    });

    it("gives scripts the secret in JSON", async () => {
      const json = await runJson(env, "keys", "create", "--account", ACCOUNT, "--name", "script");
      expect(json.secret).to.match(/^sk-shareai-/);
      expect(json).to.deep.include({ name: "script", allowedModels: null, dailySpendCapBase: null });
    });

    it("refuses a key for unknown models or with bad limits", async () => {
      await expectFailure(
        ["keys", "create", "--account", ACCOUNT, "--name", "x", "--models", "acme/llama-3-8b,typo"],
        /unknown models: typo/,
      );
      await expectFailure(
        ["keys", "create", "--account", ACCOUNT, "--name", "x", "--rpm", "0"],
        /argument '0' is invalid\. Must be a whole number from 1/,
      );
      await expectFailure(["keys", "create", "--account", "nope", "--name", "x"], /Not an Ethereum address/);
    });

    it("lists keys, of one account or all", async () => {
      const mine = await runJson(env, "keys", "list", "--account", ACCOUNT);
      expect(mine.map((k: { name: string }) => k.name)).to.deep.equal(["ci", "script"]);
      expect(
        await runJson(env, "keys", "list", "--account", "0x00000000000000000000000000000000000000ee"),
      ).to.deep.equal([]);
      const table = await runShareai(env, "keys", "list");
      expect(table.stdout).to.match(
        /ci\s+sk-shareai-\S{4}…\s+0x0+cc\s+active\s+acme\/llama-3-8b\s+5 USDC \/ 100 USDC\s+60\/100000/,
      );
    });

    it("updates a key's limits, and `none` removes one", async () => {
      const json = await runJson(
        env,
        "keys",
        "update",
        keyId,
        "--name",
        "ci-2",
        "--all-models",
        "--daily-cap",
        "none",
        "--rpm",
        "none",
        "--tpm",
        "500",
      );
      expect(json).to.deep.include({
        name: "ci-2",
        allowedModels: null,
        dailySpendCapBase: null,
        totalSpendCapBase: "100000000",
        requestsPerMinute: null,
        tokensPerMinute: 500,
      });
      await expectFailure(["keys", "update", keyId], /nothing to change/);
      await expectFailure(["keys", "update", keyId, "--models", "a", "--all-models"], /not both/);
      await expectFailure(["keys", "update", "00000000-0000-4000-8000-000000000000", "--name", "x"], /no key/);
    });

    it("revokes a key once", async () => {
      expect((await runShareai(env, "keys", "revoke", keyId)).stdout).to.include("Revoked key");
      expect((await db.apiKeys.get(keyId))!.revokedAt).to.be.instanceOf(Date);
      expect((await runShareai(env, "keys", "revoke", keyId)).stdout).to.include("was already revoked");
      await expectFailure(["keys", "revoke", "not-a-key"], /no key "not-a-key"/);
    });
  });

  describe("errors and help", () => {
    it("reports a bad configuration in one line naming the variable", async () => {
      await expectFailure(
        ["models", "list"],
        /^error: invalid configuration: LOG_LEVEL must be one of .* \(got "loud"\)$/,
        { ...env, LOG_LEVEL: "loud" },
      );
    });

    it("reports an unreachable database in one line", async () => {
      await expectFailure(["models", "list"], /ECONNREFUSED/, {
        DATABASE_URL: "postgres://nobody@127.0.0.1:1/none",
        LOG_LEVEL: "silent",
      });
    });

    it("shows the stack only with LOG_LEVEL=debug", async () => {
      const run = await runShareai({ ...env, LOG_LEVEL: "debug" }, "keys", "revoke", "not-a-key");
      expect(run.code).to.equal(1);
      expect(run.stderr).to.match(/^error: no key/);
      expect(run.stderr).to.match(/\n\s+at /);
    });

    it("exits 0 for --help and non-zero for an unknown command or option", async () => {
      const help = await runShareai(env, "keys", "--help");
      expect(help.code).to.equal(0);
      expect(help.stdout).to.include("create [options]");
      expect((await runShareai(env, "nonsense")).code).to.equal(1);
      expect((await runShareai(env, "models", "list", "--bogus")).code).to.equal(1);
    });
  });
});
