import { microsToUsdc } from "../../domain/money/usdcDecimal";
import { bigintFromNumeric } from "../../persistence/money";
import { MICROS_PER_BASE } from "../../settlement/cumulative";
import { differs, passed, type ReconcileCheck } from "../reconcileCheck";

/**
 * Σ metered micro units per (payer, provider) = latest cumulative voucher × 10^6 + carried
 * remainder + micros not yet in a voucher. Checked voucher by voucher: each voucher's total is
 * the previous one's plus exactly its own receipts, its amount is that total floored to base
 * units, its carry the rest, its receipt count the records it links. So a usage record changed
 * after it was signed is found at the voucher that holds it.
 */
export const meteredUsage: ReconcileCheck = {
  name: "metered-usage",
  title: "Σ metered usage per pair = cumulative voucher × 10^6 + carried + not yet in a voucher",
  async run({ db }) {
    const { rows: groups } = await db.query<{
      account: string;
      provider_address: string;
      voucher_id: string | null;
      micros: string;
      count: number;
    }>(
      `SELECT account, provider_address, voucher_id, sum(cost_micros) AS micros, count(*)::int AS count
       FROM usage_records GROUP BY account, provider_address, voucher_id`,
    );
    const { rows: voucherRows } = await db.query<{
      id: string;
      payer: string;
      provider: string;
      cumulative_amount_base: string;
      total_micros: string;
      carried_micros: string;
      receipt_count: number;
    }>(
      `SELECT id, payer, provider, cumulative_amount_base, total_micros, carried_micros, receipt_count
       FROM vouchers ORDER BY payer, provider, cumulative_amount_base`,
    );
    const byVoucher = new Map<string, { pair: string; micros: bigint; count: number }>();
    const pairs = new Map<string, { metered: bigint; unvouchered: bigint; vouchers: typeof voucherRows }>();
    const pairOf = (key: string) => {
      let pair = pairs.get(key);
      if (!pair) pairs.set(key, (pair = { metered: 0n, unvouchered: 0n, vouchers: [] }));
      return pair;
    };
    for (const group of groups) {
      const key = `${group.account} → ${group.provider_address}`;
      const micros = bigintFromNumeric(group.micros);
      const pair = pairOf(key);
      pair.metered += micros;
      if (group.voucher_id === null) pair.unvouchered += micros;
      else byVoucher.set(group.voucher_id, { pair: key, micros, count: group.count });
    }
    for (const row of voucherRows) pairOf(`${row.payer} → ${row.provider}`).vouchers.push(row);

    let totalMetered = 0n;
    let totalCharged = 0n;
    let totalCarried = 0n;
    let totalWaiting = 0n;
    for (const [key, pair] of [...pairs].sort(([a], [b]) => (a < b ? -1 : 1))) {
      let running = 0n;
      for (const v of pair.vouchers) {
        const linked = byVoucher.get(v.id) ?? { pair: key, micros: 0n, count: 0 };
        if (linked.pair !== key) {
          return differs(`voucher #${v.id} of ${key} links usage records of another pair (${linked.pair})`);
        }
        running += linked.micros;
        const total = bigintFromNumeric(v.total_micros);
        const cumulative = bigintFromNumeric(v.cumulative_amount_base);
        const carried = bigintFromNumeric(v.carried_micros);
        if (total !== running) {
          return differs(
            `pair ${key}: voucher #${v.id} (cumulative ${cumulative} base units) states a metered total of ${total} micro units, ` +
              `but the usage records up to and in it sum to ${running} (difference ${running - total} micro units = ${microsToUsdc(running - total)} USDC)`,
          );
        }
        if (cumulative !== total / MICROS_PER_BASE || carried !== total % MICROS_PER_BASE) {
          return differs(
            `pair ${key}: voucher #${v.id} states ${cumulative} base units + ${carried} carried for a total of ${total} micro units; ` +
              `expected ${total / MICROS_PER_BASE} + ${total % MICROS_PER_BASE}`,
          );
        }
        if (linked.count !== v.receipt_count) {
          return differs(`pair ${key}: voucher #${v.id} was signed over ${v.receipt_count} receipts, but ${linked.count} usage records link to it`);
        }
      }
      const latest = pair.vouchers[pair.vouchers.length - 1];
      const cumulative = latest ? bigintFromNumeric(latest.cumulative_amount_base) : 0n;
      const carried = latest ? bigintFromNumeric(latest.carried_micros) : 0n;
      const accounted = cumulative * MICROS_PER_BASE + carried + pair.unvouchered;
      if (accounted !== pair.metered) {
        return differs(
          `pair ${key}: metered ${pair.metered} micro units, but cumulative ${cumulative} × 10^6 + carried ${carried} + not yet in a voucher ${pair.unvouchered} = ${accounted}`,
        );
      }
      totalMetered += pair.metered;
      totalCharged += cumulative;
      totalCarried += carried;
      totalWaiting += pair.unvouchered;
    }
    return passed(
      `${pairs.size} pairs, ${voucherRows.length} vouchers: metered ${totalMetered} micro units = ${totalCharged} base units × 10^6 ` +
        `+ ${totalCarried} carried + ${totalWaiting} not yet in a voucher`,
    );
  },
};
