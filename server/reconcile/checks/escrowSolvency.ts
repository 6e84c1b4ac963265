import { IERC20__factory } from "../../../typechain-types";
import { differs, passed, type ReconcileCheck } from "../reconcileCheck";

/**
 * The escrow holds exactly what it owes: its token balance = Σ available + Σ thawing over every
 * payer and Σ unclaimed earnings over every payee seen in its events, all read from the chain as
 * of the cursor block. More means tokens were sent to it directly; less would be a bug in the escrow.
 */
export const escrowSolvency: ReconcileCheck = {
  name: "escrow-solvency",
  title: "the escrow's token balance = Σ available + Σ thawing + Σ unclaimed earnings",
  async run({ escrow, escrowAddress, provider, cursor, chainEvents }) {
    const blockTag = cursor.blockNumber;
    const payers = new Set<string>();
    const payees = new Set<string>();
    for (const event of await chainEvents()) {
      switch (event.name) {
        case "Deposited":
        case "WithdrawalRequested":
        case "WithdrawalCancelled":
        case "Withdrawn":
          payers.add(event.args.payer);
          break;
        case "Settled":
          payers.add(event.args.payer);
          payees.add(event.args.provider);
          break;
        case "Claimed":
          payees.add(event.args.payee);
          break;
        case "TreasuryChanged":
          payees.add(event.args.newTreasury);
          break;
        default:
      }
    }
    payees.delete("0x0000000000000000000000000000000000000000");
    let available = 0n;
    let thawing = 0n;
    for (const payer of payers) {
      const [a, t] = await escrow.balanceOf(payer, { blockTag });
      available += a;
      thawing += t;
    }
    let unclaimed = 0n;
    for (const payee of payees) unclaimed += await escrow.earningsOf(payee, { blockTag });
    const token = IERC20__factory.connect(await escrow.token(), provider);
    const held = await token.balanceOf(escrowAddress, { blockTag });
    const owed = available + thawing + unclaimed;
    const figures = `Σ available ${available} + Σ thawing ${thawing} + Σ unclaimed ${unclaimed} = ${owed} (${payers.size} payers, ${payees.size} payees)`;
    if (held !== owed) {
      return differs(
        `at block ${blockTag} the escrow holds ${held} base units of its token, but owes ${figures}: ` +
          (held > owed ? `${held - owed} more than owed (tokens sent to it directly?)` : `${owed - held} short`),
      );
    }
    return passed(`token balance ${held} = ${figures} at block ${blockTag}`);
  },
};
