import type { TransactionReceipt } from "ethers";
import { decodeEscrowLog } from "../../chain/escrowEvents";
import { differs, passed, type ReconcileCheck } from "../reconcileCheck";

/**
 * Every confirmed or final voucher matches the `Settled` events on chain that the database says
 * paid it (transaction, block, payer, provider, usage root, paid, the pair's settled amount
 * after), what it was paid adds up, and every `Settled` event on chain (up to the mirror's
 * cursor) pays a voucher the database holds: nothing was paid that the gateway did not sign.
 */
export const vouchersOnChain: ReconcileCheck = {
  name: "vouchers-on-chain",
  title: "every confirmed voucher matches its Settled event on chain, and every Settled event a voucher",
  async run({ db, vouchers, provider, escrowAddress, chainEvents }) {
    const { rows } = await db.query<{ id: string }>(
      "SELECT id FROM vouchers WHERE state IN ('confirmed', 'final') ORDER BY id",
    );
    const receipts = new Map<string, TransactionReceipt | null>();
    const receiptOf = async (hash: string) => {
      if (!receipts.has(hash)) receipts.set(hash, await provider.getTransactionReceipt(hash));
      return receipts.get(hash)!;
    };
    let events = 0;
    let paidTotal = 0n;
    for (const { id } of rows) {
      const voucher = (await vouchers.byId(Number(id)))!;
      const name = `voucher #${voucher.id} (${voucher.payer} → ${voucher.provider}, cumulative ${voucher.cumulativeAmountBase})`;
      const settlements = await vouchers.settlementsOf(voucher.id);
      const paid = settlements.reduce((sum, s) => sum + s.paidBase, 0n);
      if (paid !== voucher.paidBase) {
        return differs(`${name} records ${voucher.paidBase} base units paid, but its settlements sum to ${paid}`);
      }
      const latest = settlements[settlements.length - 1];
      if (latest && voucher.settledBase !== latest.settledAfterBase) {
        return differs(`${name} records the pair settled to ${voucher.settledBase}, but its latest settlement says ${latest.settledAfterBase}`);
      }
      if (voucher.paidBase > 0n && !settlements.some((s) => s.logIndex !== null)) {
        return differs(`${name} is ${voucher.state} with ${voucher.paidBase} paid, but no Settled event is recorded for it`);
      }
      for (const settlement of settlements) {
        if (settlement.logIndex === null) {
          if (settlement.paidBase !== 0n) {
            return differs(`${name}: tx ${settlement.txHash} is recorded as paying ${settlement.paidBase} without a Settled event`);
          }
          continue;
        }
        const receipt = await receiptOf(settlement.txHash);
        if (!receipt || receipt.status !== 1) {
          return differs(`${name}: its settlement tx ${settlement.txHash} is not a successful transaction on chain`);
        }
        if (receipt.blockHash.toLowerCase() !== settlement.blockHash.toLowerCase()) {
          return differs(
            `${name}: tx ${settlement.txHash} is recorded in block ${settlement.blockNumber} (${settlement.blockHash}), but the chain has it in block ${receipt.blockNumber} (${receipt.blockHash})`,
          );
        }
        const log = receipt.logs.find((l) => l.index === settlement.logIndex);
        const event = log && log.address.toLowerCase() === escrowAddress ? decodeEscrowLog(log) : null;
        if (!event || event.name !== "Settled") {
          return differs(`${name}: tx ${settlement.txHash} has no Settled event of the escrow at log ${settlement.logIndex}`);
        }
        const expected = {
          payer: voucher.payer,
          provider: voucher.provider,
          usageRoot: voucher.usageRoot.toLowerCase(),
          paid: settlement.paidBase,
          cumulativeAmount: settlement.settledAfterBase,
        };
        const actual = {
          payer: event.args.payer,
          provider: event.args.provider,
          usageRoot: event.args.usageRoot,
          paid: event.args.paid,
          cumulativeAmount: event.args.cumulativeAmount,
        };
        for (const field of Object.keys(expected) as (keyof typeof expected)[]) {
          if (expected[field] !== actual[field]) {
            return differs(
              `${name}: the Settled event in tx ${settlement.txHash} (log ${settlement.logIndex}) has ${field} ${actual[field]}, the database ${expected[field]}`,
            );
          }
        }
        events += 1;
        paidTotal += settlement.paidBase;
      }
    }

    const { rows: roots } = await db.query<{ usage_root: string }>("SELECT lower(usage_root) AS usage_root FROM vouchers");
    const known = new Set(roots.map((row) => row.usage_root));
    const settled = (await chainEvents()).filter((event) => event.name === "Settled");
    for (const event of settled) {
      if (event.name === "Settled" && !known.has(event.args.usageRoot)) {
        return differs(
          `the Settled event in tx ${event.txHash} (log ${event.logIndex}, ${event.args.payer} → ${event.args.provider}, paid ${event.args.paid}) carries usage root ${event.args.usageRoot}, which no voucher in the database has`,
        );
      }
    }
    return passed(
      `${rows.length} confirmed/final vouchers match ${events} Settled events (${paidTotal} base units paid); ` +
        `all ${settled.length} Settled events up to the cursor pay known vouchers`,
    );
  },
};
