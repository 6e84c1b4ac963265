import type { Pool } from "pg";
import type { UpstreamDirectory } from "../../domain/ports";
import type { Address } from "../../domain/types";
import { MICROS_PER_BASE } from "../../domain/ledger/balance";
import type { NewUpstream, ProviderDetails, ProviderRepository, UpstreamDetails } from "../../persistence/providers/providerRepository";

/** What the Provider page shows about one provider, from the ledger and the chain watcher's mirror. */
export interface ProviderActivity {
  requests: number;
  promptTokens: bigint;
  completionTokens: bigint;
  /** Σ usage_records.cost_micros at this provider (what payers were charged, fee included). */
  usageMicros: bigint;
  /** Σ chain_pair_settlements: what the escrow settled to this provider (gross) and its share of it. */
  settledBase: bigint;
  providerShareBase: bigint;
  settlementCount: number;
  /** Usage at this provider not yet settled on chain, per payer clamped at 0, in micros (gross, fee included). */
  pendingMicros: bigint;
  /** chain_earnings of the payout address. */
  earnedBase: bigint;
  claimedBase: bigint;
  unclaimedBase: bigint;
}

/** The Provider page's reads and writes: one provider, found by its payout address. */
export interface ProviderPortalStore {
  findByAddress(address: Address): Promise<ProviderDetails | null>;
  create(input: { payoutAddress: Address; name: string }): Promise<ProviderDetails>;
  addUpstream(input: NewUpstream): Promise<UpstreamDetails>;
  setUpstreamEnabled(id: string, enabled: boolean): Promise<boolean>;
  activity(address: Address): Promise<ProviderActivity>;
  /** An upstream's stored API key, to check it again; null when none or not readable (a disabled upstream). */
  apiKeyOf(upstream: UpstreamDetails): Promise<string | null>;
}

export class PostgresProviderPortalStore implements ProviderPortalStore {
  constructor(
    private readonly pool: Pool,
    private readonly providers: ProviderRepository,
    /** Opens sealed upstream keys (the gateway's own directory, which holds the encryption key). */
    private readonly directory?: Pick<UpstreamDirectory, "upstreamsFor">,
  ) {}

  async apiKeyOf(upstream: UpstreamDetails): Promise<string | null> {
    if (!upstream.hasApiKey || !this.directory) return null;
    for (const modelId of Object.keys(upstream.models)) {
      const target = (await this.directory.upstreamsFor(modelId).catch(() => [])).find((t) => t.id === upstream.id);
      if (target) return target.apiKey;
    }
    return null;
  }

  async findByAddress(address: Address): Promise<ProviderDetails | null> {
    const { rows } = await this.pool.query<{ id: string }>("SELECT id FROM providers WHERE payout_address = $1", [
      address.toLowerCase(),
    ]);
    if (rows.length === 0) return null;
    // Few providers, few upstreams: the repository's list is the one place that reads them whole.
    return (await this.providers.list()).find((provider) => provider.id === rows[0].id) ?? null;
  }

  async create(input: { payoutAddress: Address; name: string }): Promise<ProviderDetails> {
    const provider = await this.providers.create(input);
    return { ...provider, upstreams: [] };
  }

  addUpstream(input: NewUpstream): Promise<UpstreamDetails> {
    return this.providers.addUpstream(input);
  }

  setUpstreamEnabled(id: string, enabled: boolean): Promise<boolean> {
    return this.providers.setUpstreamEnabled(id, enabled);
  }

  async activity(address: Address): Promise<ProviderActivity> {
    const provider = address.toLowerCase();
    const [usage, pairs, earnings] = await Promise.all([
      this.pool.query<{ account: string; requests: string; prompt: string; completion: string; micros: string }>(
        `SELECT account, count(*) AS requests, coalesce(sum(prompt_tokens), 0) AS prompt,
                coalesce(sum(completion_tokens), 0) AS completion, coalesce(sum(cost_micros), 0) AS micros
         FROM usage_records WHERE provider_address = $1 GROUP BY account`,
        [provider],
      ),
      this.pool.query<{ payer: string; settled_base: string; provider_share_base: string; settlement_count: number }>(
        `SELECT payer, settled_base, provider_share_base, settlement_count FROM chain_pair_settlements WHERE provider = $1`,
        [provider],
      ),
      this.pool.query<{ earned_base: string; claimed_base: string; unclaimed_base: string }>(
        "SELECT earned_base, claimed_base, unclaimed_base FROM chain_earnings WHERE payee = $1",
        [provider],
      ),
    ]);
    const settledByPayer = new Map(pairs.rows.map((row) => [row.payer.toLowerCase(), BigInt(row.settled_base)]));
    let requests = 0;
    let promptTokens = 0n;
    let completionTokens = 0n;
    let usageMicros = 0n;
    let pendingMicros = 0n;
    for (const row of usage.rows) {
      requests += Number(row.requests);
      promptTokens += BigInt(row.prompt);
      completionTokens += BigInt(row.completion);
      usageMicros += BigInt(row.micros);
      const settledMicros = (settledByPayer.get(row.account.toLowerCase()) ?? 0n) * MICROS_PER_BASE;
      if (BigInt(row.micros) > settledMicros) pendingMicros += BigInt(row.micros) - settledMicros;
    }
    const earned = earnings.rows[0];
    return {
      requests,
      promptTokens,
      completionTokens,
      usageMicros,
      settledBase: pairs.rows.reduce((sum, row) => sum + BigInt(row.settled_base), 0n),
      providerShareBase: pairs.rows.reduce((sum, row) => sum + BigInt(row.provider_share_base), 0n),
      settlementCount: pairs.rows.reduce((sum, row) => sum + Number(row.settlement_count), 0),
      pendingMicros,
      earnedBase: BigInt(earned?.earned_base ?? 0),
      claimedBase: BigInt(earned?.claimed_base ?? 0),
      unclaimedBase: BigInt(earned?.unclaimed_base ?? 0),
    };
  }
}
