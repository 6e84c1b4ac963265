import type { Command } from "commander";
import type { ProviderDetails, UpstreamDetails } from "../../persistence";
import { address } from "../arguments";
import { CliError, type CliIo } from "../io";
import { dateText, printerFor, upstreamModelsText, type Printer } from "../output";
import { withDatabase } from "../withDatabase";

export function registerProviderCommands(program: Command, io: CliIo): void {
  const out = (command: Command) => printerFor(io, command);
  const providers = program.command("providers").description("providers: who serves models, and where they are paid");

  providers
    .command("list")
    .description("every provider with its upstreams and the models each serves")
    .action(async (_options, command: Command) => {
      const list = await withDatabase(io, (db) => db.providers.list());
      printProviders(out(command), list);
    });

  providers
    .command("add")
    .description("register a provider; its upstreams are added with `shareai upstreams add`")
    .requiredOption("--address <0x…>", "payout address: where the provider's 90% of each settlement is paid", address)
    .requiredOption("--name <name>", "a name people recognise")
    .action(async (options: { address: string; name: string }, command: Command) => {
      if (options.name.trim() === "") throw new CliError("--name cannot be empty");
      const provider = await withDatabase(io, (db) =>
        db.providers.create({ payoutAddress: options.address, name: options.name }),
      );
      const p = out(command);
      p.line(`Added provider ${provider.name} (${provider.id}), paid at ${provider.payoutAddress}.`);
      p.line(`Next: shareai upstreams add --provider ${provider.id} --base-url <https://…/v1> --model <id>`);
      p.result(provider);
    });
}

function printProviders(p: Printer, providers: ProviderDetails[]): void {
  p.result(providers);
  if (providers.length === 0) {
    p.line("No providers yet. Add one: shareai providers add --address 0x… --name <name>");
    return;
  }
  for (const provider of providers) {
    p.line(`${provider.name}  (${provider.id})`);
    p.line(`  paid at  ${provider.payoutAddress}, added ${dateText(provider.createdAt)}`);
    if (provider.upstreams.length === 0) p.line("  no upstreams");
    for (const upstream of provider.upstreams) p.line(`  upstream ${describeUpstream(upstream)}`);
  }
}

function describeUpstream(upstream: UpstreamDetails): string {
  const flags = [upstream.enabled ? "enabled" : "disabled", upstream.hasApiKey ? "key stored" : "no key"].join(", ");
  return `${upstream.id}  ${upstream.baseUrl}  [${flags}]  models: ${upstreamModelsText(upstream.models)}`;
}
