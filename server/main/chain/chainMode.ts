import type { GatewayConfig } from "../../config";

/** Where the gateway settles: a local Hardhat chain it starts, the chain RPC_URL names, or none. */
export type ChainMode = "local" | "rpc" | "none";
export type ChainModeRequest = ChainMode | "auto";

export class ChainModeError extends Error {
  override name = "ChainModeError";
}

/**
 * - RPC_URL set: that chain ("rpc"); asking for a local chain then is a contradiction, refused.
 * - RPC_URL unset, no DATABASE_URL: the local network, so a local chain ("local").
 * - RPC_URL unset, DATABASE_URL set: refused. That is how production without a chain would look,
 *   and silently running without the watcher and the worker would serve balances nobody updates
 *   and settle nothing. `--local-chain` or `--no-chain` say which was meant.
 */
export function resolveChainMode(
  config: Pick<GatewayConfig, "databaseUrl" | "chain">,
  requested: ChainModeRequest,
): ChainMode {
  if (requested === "none") return "none";
  if (requested === "local") {
    if (config.chain.rpcUrl) {
      throw new ChainModeError("RPC_URL is set: unset it to run a local chain, or drop --local-chain to use that chain");
    }
    return "local";
  }
  if (requested === "rpc") {
    if (!config.chain.rpcUrl) throw new ChainModeError("RPC_URL is not set");
    return "rpc";
  }
  if (config.chain.rpcUrl) return "rpc";
  if (!config.databaseUrl) return "local";
  throw new ChainModeError(
    "DATABASE_URL is set but RPC_URL is not, so there is no chain to settle on. Either set RPC_URL, " +
      "ESCROW_ADDRESS (or DEPLOYMENTS_FILE), SETTLEMENT_SIGNER_KEY and SETTLEMENT_SUBMITTER_KEY to run the chain " +
      "watcher and the settlement worker (docs/local-network.md, \"A real chain\"); or run `shareai start --local-chain` " +
      "for a local Hardhat chain; or `shareai start --no-chain` for a gateway without a chain (balances from " +
      "`shareai accounts set-balance`, nothing settled).",
  );
}
