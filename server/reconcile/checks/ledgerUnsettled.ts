import { bigintFromNumeric } from "../../persistence/money";
import { differs, passed, type ReconcileCheck } from "../reconcileCheck";

/**
 * Each account's unsettled usage (what its spendable balance is reduced by until paid) is exactly
 * what it was metered minus what the applied `Settled` events took off it: no request was charged
 * twice or forgotten, and no payment was applied twice.
 */
export const ledgerUnsettled: ReconcileCheck = {
  name: "ledger-unsettled",
  title: "each account's unsettled usage = Σ metered − Σ taken off by applied settlements",
  async run({ db }) {
    const { rows } = await db.query<{ account: string; unsettled: string; metered: string; taken: string }>(
      `SELECT b.account, b.unsettled_micros AS unsettled,
              COALESCE((SELECT sum(u.cost_micros) FROM usage_records u WHERE u.account = b.account), 0) AS metered,
              COALESCE((SELECT sum(s.ledger_micros) FROM chain_settlements s WHERE s.payer = b.account), 0) AS taken
       FROM account_balances b ORDER BY b.account`,
    );
    let unsettledTotal = 0n;
    for (const row of rows) {
      const [unsettled, metered, taken] = [row.unsettled, row.metered, row.taken].map(bigintFromNumeric);
      if (unsettled !== metered - taken) {
        return differs(
          `account ${row.account}: unsettled ${unsettled} micro units, but metered ${metered} − settled ${taken} = ${metered - taken}`,
        );
      }
      unsettledTotal += unsettled;
    }
    return passed(`${rows.length} accounts: ${unsettledTotal} micro units metered and not yet settled`);
  },
};
