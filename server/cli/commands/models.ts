import type { Command } from "commander";
import { baseUnitsToUsdc } from "../../domain/money/usdcDecimal";
import type { Model } from "../../domain/types";
import type { ModelDetails } from "../../persistence";
import { amountArgument, positiveInteger } from "../arguments";
import { CliError, type CliIo } from "../io";
import { printerFor, usdcWithBase, type Printer } from "../output";
import { withDatabase } from "../withDatabase";

/** A new model's limits when none are given: a common context window, and a hold sized for long answers. */
export const DEFAULT_CONTEXT_LENGTH = 8192;
export const DEFAULT_MAX_OUTPUT_TOKENS = 4096;

interface SetOptions {
  promptRate?: bigint;
  completionRate?: bigint;
  contextLength?: number;
  maxOutput?: number;
  ownedBy?: string;
}

export function registerModelCommands(program: Command, io: CliIo): void {
  const models = program.command("models").description("the models of the network and their rates");
  const out = (command: Command) => printerFor(io, command);

  models
    .command("list")
    .description("every model, disabled ones included, with its rates per million tokens")
    .action(async (_options, command: Command) => {
      const list = await withDatabase(io, (db) => db.models.list());
      printModels(out(command), list);
    });

  models
    .command("set <id>")
    .description(
      "create a model, or change its rates or limits (rates: USDC base units per 1M tokens, or USDC like 0.25)",
    )
    .option("--prompt-rate <rate>", "price of 1M prompt tokens: base units (250000) or USDC (0.25)", amountArgument)
    .option("--completion-rate <rate>", "price of 1M completion tokens: base units or USDC", amountArgument)
    .option("--context-length <tokens>", `context window (new models: ${DEFAULT_CONTEXT_LENGTH})`, (v) =>
      positiveInteger(v),
    )
    .option(
      "--max-output <tokens>",
      `longest answer; sizes the hold when a request sets no max_tokens (new models: ${DEFAULT_MAX_OUTPUT_TOKENS})`,
      (v) => positiveInteger(v),
    )
    .option("--owned-by <name>", "OpenAI's owned_by (new models: the id's prefix before '/')")
    .action(async (id: string, options: SetOptions, command: Command) => {
      const { model, created } = await withDatabase(io, async (db) => {
        const existing = await db.models.get(id);
        const next = nextModel(id, existing, options);
        return { model: await db.models.upsert({ ...next, enabled: existing?.enabled ?? true }), created: !existing };
      });
      const p = out(command);
      p.line(`${created ? "Created" : "Updated"} model ${model.id}:`);
      printModelDetails(p, model);
      p.result(modelJson(model));
    });

  for (const [name, enabled] of [
    ["disable", false],
    ["enable", true],
  ] as const) {
    models
      .command(`${name} <id>`)
      .description(
        enabled
          ? "list the model again and accept requests for it"
          : "hide the model from /v1/models and refuse requests for it (404)",
      )
      .action(async (id: string, _options, command: Command) => {
        const changed = await withDatabase(io, (db) => db.models.setEnabled(id, enabled));
        if (!changed) throw new CliError(`no model ${JSON.stringify(id)} (see: shareai models list)`);
        const p = out(command);
        p.line(`Model ${id} ${enabled ? "enabled" : "disabled"} (gateways notice within CATALOG_CACHE_TTL_MS).`);
        p.result({ id, enabled });
      });
  }
}

function nextModel(id: string, existing: ModelDetails | null, options: SetOptions): Model {
  const promptRatePerMTok = options.promptRate ?? existing?.promptRatePerMTok;
  const completionRatePerMTok = options.completionRate ?? existing?.completionRatePerMTok;
  if (promptRatePerMTok === undefined || completionRatePerMTok === undefined) {
    throw new CliError(`model ${JSON.stringify(id)} is new: give both --prompt-rate and --completion-rate`);
  }
  const contextLength = options.contextLength ?? existing?.contextLength ?? DEFAULT_CONTEXT_LENGTH;
  const maxOutputTokens =
    options.maxOutput ?? existing?.maxOutputTokens ?? Math.min(DEFAULT_MAX_OUTPUT_TOKENS, contextLength);
  if (maxOutputTokens > contextLength) {
    throw new CliError(`--max-output (${maxOutputTokens}) cannot exceed the context length (${contextLength})`);
  }
  return {
    id,
    ownedBy: options.ownedBy ?? existing?.ownedBy ?? (id.includes("/") ? id.slice(0, id.indexOf("/")) : "shareai"),
    created: existing?.created ?? Math.floor(Date.now() / 1000),
    contextLength,
    maxOutputTokens,
    promptRatePerMTok,
    completionRatePerMTok,
  };
}

export function modelJson(model: ModelDetails) {
  return {
    ...model,
    promptRatePerMTokUsdc: baseUnitsToUsdc(model.promptRatePerMTok),
    completionRatePerMTokUsdc: baseUnitsToUsdc(model.completionRatePerMTok),
  };
}

function printModels(p: Printer, list: ModelDetails[]): void {
  p.table(
    ["ID", "STATUS", "PROMPT USDC/1M", "COMPLETION USDC/1M", "CONTEXT", "MAX OUTPUT", "OWNED BY"],
    list.map((m) => [
      m.id,
      m.enabled ? "enabled" : "disabled",
      baseUnitsToUsdc(m.promptRatePerMTok),
      baseUnitsToUsdc(m.completionRatePerMTok),
      String(m.contextLength),
      String(m.maxOutputTokens),
      m.ownedBy,
    ]),
    "No models yet. Add one: shareai models set <id> --prompt-rate <rate> --completion-rate <rate>",
  );
  p.result(list.map(modelJson));
}

function printModelDetails(p: Printer, model: ModelDetails): void {
  p.line(`  prompt rate      ${usdcWithBase(model.promptRatePerMTok)} per 1M tokens`);
  p.line(`  completion rate  ${usdcWithBase(model.completionRatePerMTok)} per 1M tokens`);
  p.line(`  context length   ${model.contextLength} tokens, max output ${model.maxOutputTokens} tokens`);
  p.line(`  owned by         ${model.ownedBy}${model.enabled ? "" : " (disabled)"}`);
}
