import type { Command } from "commander";
import type { ApiKeyDetails, ApiKeySettings, Database } from "../../persistence";
import {
  address,
  amountArgument,
  amountOrNone,
  commaList,
  orNull,
  perMinute,
  perMinuteOrNone,
  type None,
} from "../arguments";
import { CliError, type CliIo } from "../io";
import { dateText, printerFor, usdc, usdcWithBase, type Printer } from "../output";
import { withDatabase } from "../withDatabase";

interface CreateOptions {
  account: string;
  name: string;
  models?: string[];
  dailyCap?: bigint;
  totalCap?: bigint;
  rpm?: number;
  tpm?: number;
}

interface UpdateOptions {
  name?: string;
  models?: string[];
  allModels?: boolean;
  dailyCap?: bigint | None;
  totalCap?: bigint | None;
  rpm?: number | None;
  tpm?: number | None;
}

export function registerKeyCommands(program: Command, io: CliIo): void {
  const out = (command: Command) => printerFor(io, command);
  const keys = program.command("keys").description("API keys: sk-shareai-… secrets, stored only as hashes");

  keys
    .command("create")
    .description("create a key for an account and print its secret, once")
    .requiredOption("--account <0x…>", "the account that pays for the key's requests (created if new)", address)
    .requiredOption("--name <name>", "what the key is for")
    .option("--models <a,b>", "only these models (default: every model)", commaList)
    .option("--daily-cap <amount>", "most the key may spend per UTC day: base units, or USDC like 5.0", amountArgument)
    .option("--total-cap <amount>", "most the key may ever spend: base units, or USDC", amountArgument)
    .option("--rpm <n>", "requests per minute", perMinute)
    .option("--tpm <n>", "tokens per minute (prompt + completion)", perMinute)
    .action(async (options: CreateOptions, command: Command) => {
      if (options.name.trim() === "") throw new CliError("--name cannot be empty");
      const created = await withDatabase(io, async (db) => {
        if (options.models) await assertModelsExist(db, options.models);
        return db.apiKeys.create({
          account: options.account,
          name: options.name,
          allowedModels: options.models ?? null,
          dailySpendCapBase: options.dailyCap ?? null,
          totalSpendCapBase: options.totalCap ?? null,
          requestsPerMinute: options.rpm ?? null,
          tokensPerMinute: options.tpm ?? null,
        });
      });
      const p = out(command);
      p.line(`Created key ${created.apiKey.id} (${created.apiKey.name}) for ${created.apiKey.account}:`);
      p.line();
      p.line(`  ${created.secret}`);
      p.line();
      p.line("This is the only time the key is shown: only its hash is stored. Keep it somewhere safe.");
      printLimits(p, created.apiKey);
      p.result({ ...created.apiKey, secret: created.secret });
    });

  keys
    .command("list")
    .description("keys, oldest first (secrets are never shown again)")
    .option("--account <0x…>", "only this account's keys", address)
    .action(async (options: { account?: string }, command: Command) => {
      const list = await withDatabase(io, (db) => db.apiKeys.list(options.account));
      const p = out(command);
      p.table(KEY_HEADERS, keyRows(list), "No keys yet. Create one: shareai keys create --account 0x… --name <name>");
      p.result(list);
    });

  keys
    .command("revoke <id>")
    .description("disable a key for good")
    .action(async (id: string, _options, command: Command) => {
      const { revoked, key } = await withDatabase(io, async (db) => ({
        revoked: await db.apiKeys.revoke(id),
        key: await db.apiKeys.get(id),
      }));
      if (!key) throw new CliError(`no key ${JSON.stringify(id)} (see: shareai keys list)`);
      const p = out(command);
      p.line(
        revoked
          ? `Revoked key ${id} (${key.prefix}…). Gateways refuse it within API_KEY_CACHE_TTL_MS.`
          : `Key ${id} was already revoked (${dateText(key.revokedAt)}).`,
      );
      p.result(key);
    });

  keys
    .command("update <id>")
    .description("rename a key or change its limits; `none` removes a cap or limit")
    .option("--name <name>", "a new name")
    .option("--models <a,b>", "only these models", commaList)
    .option("--all-models", "every model (removes the allowlist)")
    .option("--daily-cap <amount|none>", "most per UTC day, or none", amountOrNone)
    .option("--total-cap <amount|none>", "most ever, or none", amountOrNone)
    .option("--rpm <n|none>", "requests per minute, or none", perMinuteOrNone)
    .option("--tpm <n|none>", "tokens per minute, or none", perMinuteOrNone)
    .action(async (id: string, options: UpdateOptions, command: Command) => {
      const changes = keyChanges(options);
      if (Object.keys(changes).length === 0)
        throw new CliError("nothing to change: give at least one option (see --help)");
      const key = await withDatabase(io, async (db) => {
        if (changes.allowedModels) await assertModelsExist(db, changes.allowedModels);
        return db.apiKeys.update(id, changes);
      });
      if (!key) throw new CliError(`no key ${JSON.stringify(id)} (see: shareai keys list)`);
      const p = out(command);
      p.line(`Updated key ${key.id} (${key.name}). Gateways apply it within API_KEY_CACHE_TTL_MS.`);
      printLimits(p, key);
      p.result(key);
    });
}

function keyChanges(options: UpdateOptions): Partial<ApiKeySettings> {
  if (options.models && options.allModels) throw new CliError("give --models or --all-models, not both");
  if (options.name !== undefined && options.name.trim() === "") throw new CliError("--name cannot be empty");
  const changes: Partial<ApiKeySettings> = {};
  if (options.name !== undefined) changes.name = options.name;
  if (options.models) changes.allowedModels = options.models;
  if (options.allModels) changes.allowedModels = null;
  if (options.dailyCap !== undefined) changes.dailySpendCapBase = orNull(options.dailyCap);
  if (options.totalCap !== undefined) changes.totalSpendCapBase = orNull(options.totalCap);
  if (options.rpm !== undefined) changes.requestsPerMinute = orNull(options.rpm);
  if (options.tpm !== undefined) changes.tokensPerMinute = orNull(options.tpm);
  return changes;
}

/** A typo in an allowlist would make a key that can use nothing; refuse it instead. */
async function assertModelsExist(db: Database, models: string[]): Promise<void> {
  const known = new Set((await db.models.list()).map((model) => model.id));
  const unknown = models.filter((model) => !known.has(model));
  if (unknown.length > 0) throw new CliError(`unknown models: ${unknown.join(", ")} (see: shareai models list)`);
}

export const KEY_HEADERS = [
  "ID",
  "NAME",
  "PREFIX",
  "ACCOUNT",
  "STATUS",
  "MODELS",
  "CAPS (DAY/TOTAL)",
  "RPM/TPM",
  "LAST USED",
];

export function keyRows(keys: ApiKeyDetails[]): string[][] {
  return keys.map((key) => [
    key.id,
    key.name,
    `${key.prefix}…`,
    key.account,
    key.revokedAt ? "revoked" : "active",
    key.allowedModels ? key.allowedModels.join(",") : "all",
    `${key.dailySpendCapBase === null ? "-" : usdc(key.dailySpendCapBase)} / ${
      key.totalSpendCapBase === null ? "-" : usdc(key.totalSpendCapBase)
    }`,
    `${key.requestsPerMinute ?? "-"}/${key.tokensPerMinute ?? "-"}`,
    dateText(key.lastUsedAt),
  ]);
}

function printLimits(p: Printer, key: ApiKeyDetails): void {
  p.line(`  models          ${key.allowedModels ? key.allowedModels.join(", ") : "every model"}`);
  p.line(`  daily cap       ${key.dailySpendCapBase === null ? "none" : usdcWithBase(key.dailySpendCapBase)}`);
  p.line(`  total cap       ${key.totalSpendCapBase === null ? "none" : usdcWithBase(key.totalSpendCapBase)}`);
  p.line(`  rate limits     ${key.requestsPerMinute ?? "no"} requests/min, ${key.tokensPerMinute ?? "no"} tokens/min`);
}
