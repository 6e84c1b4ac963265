/**
 * A `hardhat node` in a child process, for tests that need a real JSON-RPC chain outside the
 * Hardhat runtime (the gateway, the CLI, end-to-end tests). Start it in `before`, stop it in `after`.
 * The launcher is production code (`npm start` runs its local chain with it); this is a thin wrapper.
 */
export {
  startHardhatNode,
  hardhatAccount,
  HARDHAT_MNEMONIC,
  HARDHAT_CHAIN_ID,
  type HardhatNode,
  type StartHardhatNodeOptions,
} from "../../server/main/chain/hardhatNode";
