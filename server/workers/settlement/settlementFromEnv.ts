import { JsonRpcProvider, Wallet } from "ethers";
import { defaultConfirmations, locateEscrow } from "../../chain/chainWatcherSettings";
import type { SettlementWorkerOptions } from "../settlementWorker";
import { settlementEnvFrom } from "./settlementSettings";

/**
 * The chain half of the worker's options from the environment (see `settlementEnvFrom`): a
 * provider on RPC_URL, the signer and submitter wallets, and the escrow from ESCROW_ADDRESS or
 * the deployments file, located the way the chain watcher locates it. The keys live only inside
 * the two Wallets.
 */
export async function settlementOptionsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  deploymentsDir = "deployments",
): Promise<Pick<SettlementWorkerOptions, "provider" | "escrowAddress" | "signer" | "submitter" | "settings">> {
  const parsed = settlementEnvFrom(env);
  // No result cache: a second call in a row must see the submitter's new nonce.
  const provider = new JsonRpcProvider(parsed.rpcUrl, undefined, { cacheTimeout: -1 });
  const { chainId } = await provider.getNetwork();
  const escrow = locateEscrow(
    { escrowAddress: parsed.escrowAddress, escrowDeploymentBlock: null, deploymentsFile: parsed.deploymentsFile },
    chainId,
    deploymentsDir,
  );
  return {
    provider,
    escrowAddress: escrow.address,
    signer: new Wallet(parsed.signerKey),
    submitter: new Wallet(parsed.submitterKey, provider),
    settings: { ...parsed.settings, confirmations: parsed.confirmations ?? defaultConfirmations(chainId) },
  };
}
