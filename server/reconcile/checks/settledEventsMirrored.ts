import { eventArgsToJson } from "../../chain/escrowEvents";
import type { ChainSettlement } from "../../persistence/chain/chainRepository";
import { differs, passed, type ReconcileCheck } from "../reconcileCheck";

/**
 * The chain watcher's mirror holds exactly the escrow's events up to its cursor: every event on
 * chain is in `chain_events` with the same arguments and nothing else is, and every `Settled`
 * event has its `chain_settlements` row with the same payer, provider, amounts and usage root.
 */
export const settledEventsMirrored: ReconcileCheck = {
  name: "events-mirrored",
  title: "the mirror holds exactly the escrow's events and Settled payments up to its cursor",
  async run({ chain, cursor, chainEvents }) {
    const onChain = await chainEvents();
    const mirrored = await chain.events();
    const key = (e: { txHash: string; logIndex: number }) => `${e.txHash.toLowerCase()}#${e.logIndex}`;
    const mirror = new Map(mirrored.filter((e) => e.blockNumber <= cursor.blockNumber).map((e) => [key(e), e]));
    for (const event of onChain) {
      const stored = mirror.get(key(event));
      if (!stored) {
        return differs(`the ${event.name} event in tx ${event.txHash} (log ${event.logIndex}, block ${event.blockNumber}) is on chain but not in chain_events`);
      }
      const [a, b] = [JSON.stringify(eventArgsToJson(event)), JSON.stringify(eventArgsToJson(stored))];
      if (stored.name !== event.name || a !== b) {
        return differs(`event tx ${event.txHash} log ${event.logIndex}: on chain ${event.name} ${a}, mirrored ${stored.name} ${b}`);
      }
      mirror.delete(key(event));
    }
    const extra = [...mirror.values()][0];
    if (extra) {
      return differs(`chain_events holds a ${extra.name} event in tx ${extra.txHash} (log ${extra.logIndex}) that is not on chain`);
    }

    const settlements = new Map<string, ChainSettlement>((await chain.settlements()).map((s) => [key(s), s]));
    let settledCount = 0;
    for (const event of onChain) {
      if (event.name !== "Settled") continue;
      settledCount += 1;
      const row = settlements.get(key(event));
      if (!row) {
        return differs(
          `the Settled event in tx ${event.txHash} (log ${event.logIndex}: ${event.args.payer} → ${event.args.provider}, paid ${event.args.paid}) is on chain but has no chain_settlements row`,
        );
      }
      const expected = {
        payer: event.args.payer,
        provider: event.args.provider,
        cumulative: event.args.cumulativeAmount,
        paid: event.args.paid,
        providerShare: event.args.providerShare,
        fee: event.args.fee,
        usageRoot: event.args.usageRoot,
      };
      const actual = {
        payer: row.payer,
        provider: row.provider,
        cumulative: row.cumulativeBase,
        paid: row.paidBase,
        providerShare: row.providerShareBase,
        fee: row.feeBase,
        usageRoot: row.usageRoot.toLowerCase(),
      };
      for (const field of Object.keys(expected) as (keyof typeof expected)[]) {
        if (expected[field] !== actual[field]) {
          return differs(`chain_settlements row of tx ${event.txHash} log ${event.logIndex}: ${field} is ${actual[field]}, on chain ${expected[field]}`);
        }
      }
      settlements.delete(key(event));
    }
    const stray = [...settlements.values()][0];
    if (stray) return differs(`chain_settlements holds a payment in tx ${stray.txHash} (log ${stray.logIndex}) that is no Settled event on chain`);
    return passed(`${onChain.length} escrow events (${settledCount} Settled) up to block ${cursor.blockNumber} mirrored exactly`);
  },
};
