import type { Command } from "commander";
import type { Database, ProviderDetails } from "../../persistence";
import { modelMapping } from "../arguments";
import { CliError, type CliIo } from "../io";
import { printerFor, upstreamModelsText } from "../output";
import { withDatabase } from "../withDatabase";

export function registerUpstreamCommands(program: Command, io: CliIo): void {
  const out = (command: Command) => printerFor(io, command);
  const upstreams = program
    .command("upstreams")
    .description("a provider's OpenAI-compatible endpoints (vLLM, Ollama, llama.cpp, a hosted API…)");

  upstreams
    .command("list")
    .description("every upstream, with its provider, status and models")
    .action(async (_options, command: Command) => {
      const providers = await withDatabase(io, (db) => db.providers.list());
      const p = out(command);
      const rows = providers.flatMap((provider) => provider.upstreams.map((upstream) => ({ provider, upstream })));
      p.table(
        ["ID", "PROVIDER", "BASE URL", "STATUS", "KEY", "MODELS"],
        rows.map(({ provider, upstream }) => [
          upstream.id,
          provider.name,
          upstream.baseUrl,
          upstream.enabled ? "enabled" : "disabled",
          upstream.hasApiKey ? "stored" : "-",
          upstreamModelsText(upstream.models),
        ]),
        "No upstreams yet. Add one: shareai upstreams add --provider <id> --base-url <url> --model <id>",
      );
      p.result(rows.map(({ provider, upstream }) => ({ ...upstream, providerName: provider.name })));
    });

  upstreams
    .command("add")
    .description("add an upstream to a provider, serving one or more network models")
    .requiredOption("--provider <id|0x…>", "the provider's id, or its payout address")
    .requiredOption("--base-url <url>", "OpenAI-compatible base URL, usually ending in /v1")
    .requiredOption(
      "--model <networkId[=upstreamName]>",
      "a network model it serves, and the name the upstream knows it by if different (repeatable)",
      modelMapping,
    )
    .option("--api-key <key>", "the upstream's API key (stored encrypted; needs UPSTREAM_KEY_ENCRYPTION_KEY)")
    .option(
      "--api-key-env <name>",
      "read the upstream's API key from this environment variable (keeps it out of shell history)",
    )
    .option("--disabled", "add it disabled (enable later with `shareai upstreams enable`)")
    .action(async (options: AddUpstreamOptions, command: Command) => {
      const apiKey = upstreamApiKey(io, options);
      const upstream = await withDatabase(io, async (db, config) => {
        if (apiKey && !config.upstreamKeyEncryptionKey) {
          throw new CliError(
            "storing an upstream API key needs UPSTREAM_KEY_ENCRYPTION_KEY (32 bytes, e.g. `openssl rand -hex 32`); every gateway needs the same one",
          );
        }
        const provider = await findProvider(db, options.provider);
        return db.providers.addUpstream({
          providerId: provider.id,
          baseUrl: options.baseUrl,
          apiKey,
          models: options.model,
          enabled: !options.disabled,
        });
      });
      const p = out(command);
      p.line(`Added upstream ${upstream.id} at ${upstream.baseUrl}${upstream.enabled ? "" : " (disabled)"}, serving:`);
      for (const [networkId, upstreamName] of Object.entries(upstream.models)) {
        p.line(`  ${networkId}${upstreamName === networkId ? "" : ` (as ${upstreamName})`}`);
      }
      if (!/\/v1$/.test(upstream.baseUrl)) {
        p.line(
          `Note: the gateway calls ${upstream.baseUrl}/chat/completions; OpenAI-compatible servers usually want …/v1.`,
        );
      }
      p.result(upstream);
    });

  for (const [name, description] of [
    ["disable", "stop routing requests to the upstream (it stays registered)"],
    ["enable", "route requests to the upstream again"],
    ["remove", "retire the upstream: disabled for good, its key wiped, no longer listed (its usage keeps its id)"],
  ] as const) {
    upstreams
      .command(`${name} <id>`)
      .description(description)
      .action(async (id: string, _options, command: Command) => {
        const changed = await withDatabase(io, (db) =>
          name === "remove" ? db.providers.removeUpstream(id) : db.providers.setUpstreamEnabled(id, name === "enable"),
        );
        if (!changed) throw new CliError(`no upstream ${JSON.stringify(id)} (see: shareai providers list)`);
        const p = out(command);
        p.line(
          `Upstream ${id} ${name === "remove" ? "removed" : `${name}d`} (gateways notice within CATALOG_CACHE_TTL_MS).`,
        );
        p.result({ id, [name === "remove" ? "removed" : "enabled"]: name !== "disable" });
      });
  }
}

interface AddUpstreamOptions {
  provider: string;
  baseUrl: string;
  model: Record<string, string>;
  apiKey?: string;
  apiKeyEnv?: string;
  disabled?: boolean;
}

function upstreamApiKey(io: CliIo, options: AddUpstreamOptions): string | null {
  if (options.apiKey !== undefined && options.apiKeyEnv !== undefined) {
    throw new CliError("give --api-key or --api-key-env, not both");
  }
  if (options.apiKeyEnv === undefined) return options.apiKey || null;
  const value = io.env[options.apiKeyEnv];
  if (!value) throw new CliError(`--api-key-env: the environment variable ${options.apiKeyEnv} is not set`);
  return value;
}

async function findProvider(db: Database, idOrAddress: string): Promise<ProviderDetails> {
  const providers = await db.providers.list();
  const wanted = idOrAddress.trim().toLowerCase();
  const provider = providers.find((p) => p.id === wanted || p.payoutAddress === wanted);
  if (!provider) throw new CliError(`no provider ${JSON.stringify(idOrAddress)} (see: shareai providers list)`);
  return provider;
}
