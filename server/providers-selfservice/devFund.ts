import { HDNodeWallet, type Provider } from "ethers";
import { MockUSDC__factory, UsageEscrow__factory } from "../../typechain-types";

/** Hardhat's chain id: the only chain `shareai dev fund` mints on. */
export const LOCAL_CHAIN_ID = 31337n;
/** Hardhat's well-known development mnemonic (every `hardhat node` funds its accounts with ETH). */
const HARDHAT_MNEMONIC = "test test test test test test test test test test test junk";
/**
 * The development account that mints and deposits: the last of the 20 Hardhat funds, so it
 * never shares a nonce with the deployer, the settlement submitter or the demo accounts.
 */
export const DEV_FUNDER_INDEX = 19;

export class NotLocalChainError extends Error {
  override name = "NotLocalChainError";
  constructor(readonly chainId: bigint) {
    super(
      `refused: chain ${chainId} is not the local Hardhat chain (31337). \`shareai dev fund\` mints test USDC, which ` +
        "exists only there; on a real chain, deposit real USDC (the web app's Account page, or the escrow's deposit/depositWithPermit).",
    );
  }
}

export interface DevFundResult {
  account: string;
  amountBase: bigint;
  funder: string;
  token: string;
  escrow: string;
  txHash: string;
  /** The account's escrow balance after the deposit. */
  availableBase: bigint;
  thawingBase: bigint;
}

/** Mints MockUSDC to a Hardhat development account and deposits it on the escrow for `account`. */
export async function devFund(
  provider: Provider,
  escrowAddress: string,
  account: string,
  amountBase: bigint,
): Promise<DevFundResult> {
  const { chainId } = await provider.getNetwork();
  if (chainId !== LOCAL_CHAIN_ID) throw new NotLocalChainError(chainId);
  if (amountBase <= 0n) throw new RangeError("the amount must be above 0");
  const funder = HDNodeWallet.fromPhrase(HARDHAT_MNEMONIC, undefined, `m/44'/60'/0'/0/${DEV_FUNDER_INDEX}`).connect(
    provider,
  );
  const escrow = UsageEscrow__factory.connect(escrowAddress, funder);
  const token = await escrow.token();
  const usdc = MockUSDC__factory.connect(token, funder);
  await (await usdc.mint(funder.address, amountBase)).wait();
  await (await usdc.approve(escrowAddress, amountBase)).wait();
  const receipt = await (await escrow.depositFor(account, amountBase)).wait();
  const [availableBase, thawingBase] = await escrow.balanceOf(account);
  return {
    account: account.toLowerCase(),
    amountBase,
    funder: funder.address.toLowerCase(),
    token: token.toLowerCase(),
    escrow: escrowAddress.toLowerCase(),
    txHash: receipt!.hash,
    availableBase,
    thawingBase,
  };
}
