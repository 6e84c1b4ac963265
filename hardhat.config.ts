import { subtask } from "hardhat/config";
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from "hardhat/builtin-tasks/task-names";
import type { HardhatUserConfig } from "hardhat/config";
import "@nomicfoundation/hardhat-ethers";
import "@nomicfoundation/hardhat-chai-matchers";
import "@typechain/hardhat";
import "solidity-coverage";

const SOLC_VERSION = "0.8.28";

// The machines we build on cannot download compilers, so Hardhat uses the
// solcjs build shipped in the pinned npm `solc` package instead.
subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }, _hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper();
  const solcPackageVersion: string = require("solc/package.json").version;
  if (solcPackageVersion !== SOLC_VERSION) {
    throw new Error(`npm solc is ${solcPackageVersion}, expected ${SOLC_VERSION}`);
  }
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: SOLC_VERSION,
    longVersion: require("solc").version(),
  };
});

function accountsFromEnv(): string[] {
  const key = process.env.DEPLOYER_PRIVATE_KEY;
  return key ? [key] : [];
}

const config: HardhatUserConfig = {
  solidity: {
    version: SOLC_VERSION,
    settings: {
      optimizer: { enabled: true, runs: 10_000 },
      evmVersion: "cancun",
    },
  },
  networks: {
    hardhat: {
      // Every test and the local network run on chain 31337; a fixed
      // hardfork keeps gas figures comparable between runs.
      hardfork: "cancun",
    },
    localhost: { url: process.env.RPC_URL ?? "http://127.0.0.1:8545" },
    remote: { url: process.env.RPC_URL ?? "http://127.0.0.1:8545", accounts: accountsFromEnv() },
  },
  typechain: {
    outDir: "typechain-types",
    target: "ethers-v6",
    // solidity-coverage compiles instrumented bytecode; keep it out of the
    // bindings that `npm start` deploys from.
    dontOverrideCompile: process.argv.includes("coverage"),
  },
  mocha: {
    timeout: 120_000,
  },
  paths: {
    tests: "test",
  },
};

export default config;
