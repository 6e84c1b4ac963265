import type { Pool } from "pg";
import type { Address } from "../../domain/types";
import { MICROS_PER_BASE } from "../../domain/ledger/balance";
import { PostgresUpstreamHealthLog } from "../../persistence/providers/postgresUpstreamHealthLog";
import type {
  NewUpstream,
  ProviderDetails,
  ProviderRepository,
  UpstreamChanges,
  UpstreamDetails,
} from "../../persistence/providers/providerRepository";
import type { UpstreamHealthLog, UpstreamHealthRecord } from "../../providers/health/upstreamHealthLog";

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
  /** The provider with its upstreams (removed ones left out), each with its last stored health check. */
  findByAddress(address: Address): Promise<ProviderDetails | null>;
  create(input: { payoutAddress: Address; name: string }): Promise<ProviderDetails>;
  addUpstream(input: NewUpstream): Promise<UpstreamDetails>;
  /** null when the upstream is not there any more (removed meanwhile). */
  updateUpstream(id: string, changes: UpstreamChanges): Promise<UpstreamDetails | null>;
  /**
   * Removes one of the provider's upstreams, keeping its row for the usage records that name it.
   * Idempotent: true for one removed already; false when the provider has no such upstream.
   */
  removeUpstream(providerId: string, id: string): Promise<boolean>;
  /** Stores a live check's result as the upstream's last health check. */
  recordHealth(id: string, check: UpstreamHealthRecord): Promise<void>;
  activity(address: Address): Promise<ProviderActivity>;
  /** An upstream's stored API key, opened, to check it again; null when it has none. */
  apiKeyOf(id: string): Promise<string | null>;
}

export class PostgresProviderPortalStore implements ProviderPortalStore {
  private readonly healthLog: UpstreamHealthLog;

  constructor(
    private readonly pool: Pool,
    private readonly providers: ProviderRepository,
  ) {
    this.healthLog = new PostgresUpstreamHealthLog(pool);
  }

  apiKeyOf(id: string): Promise<string | null> {
    return this.providers.apiKeyOf(id);
  }

  findByAddress(address: Address): Promise<ProviderDetails | null> {
    return this.providers.findByPayoutAddress(address);
  }

  async create(input: { payoutAddress: Address; name: string }): Promise<ProviderDetails> {
    const provider = await this.providers.create(input);
    return { ...provider, upstreams: [] };
  }

  addUpstream(input: NewUpstream): Promise<UpstreamDetails> {
    return this.providers.addUpstream(input);
  }

  updateUpstream(id: string, changes: UpstreamChanges): Promise<UpstreamDetails | null> {
    return this.providers.updateUpstream(id, changes);
  }

  async removeUpstream(providerId: string, id: string): Promise<boolean> {
    return (await this.providers.removeUpstream(id, providerId)) || this.providers.wasRemoved(id, providerId);
  }

  recordHealth(id: string, check: UpstreamHealthRecord): Promise<void> {
    return this.healthLog.record(id, check);
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
