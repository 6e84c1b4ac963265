/**
 * Deploys (or reuses) the UsageEscrow on the Hardhat network given with --network, configured from
 * the environment, and writes deployments/<chainId>.json. See docs/deploy.md.
 *
 *   npx hardhat node                          # another terminal: a local chain
 *   npm run deploy -- --network localhost
 *   RPC_URL=... DEPLOYER_PRIVATE_KEY=... USDC_ADDRESS=... TREASURY_ADDRESS=... \
 *     npm run deploy -- --network remote
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ethers, network } from "hardhat";
import { deployEscrow } from "./lib/deployEscrow";
import { deployOptionsFromEnv } from "./lib/deployEnv";

async function main(): Promise<void> {
  if (network.name === "remote" && !process.env.RPC_URL) {
    throw new Error("--network remote needs RPC_URL (it would otherwise fall back to 127.0.0.1:8545)");
  }
  const options = { ...deployOptionsFromEnv(process.env), networkName: network.name };
  if (network.name === "hardhat" && !options.deploymentsDir) {
    // The in-process chain is also 31337 but vanishes with this script: its record must not
    // replace the one of a `hardhat node` running on localhost.
    options.deploymentsDir = mkdtempSync(join(tmpdir(), "shareai-deployments-"));
    console.log("Note: the in-process hardhat network ends with this script (a dry run); use --network localhost");
  }
  const [deployer] = await ethers.getSigners();
  if (!deployer) {
    throw new Error(`network "${network.name}" has no account to deploy from: set DEPLOYER_PRIVATE_KEY`);
  }
  await deployEscrow(options, deployer, console.log);
}

main().catch((error: unknown) => {
  console.error(`Deploy failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
