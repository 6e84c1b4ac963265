import { differs, passed, type ReconcileCheck } from "../reconcileCheck";

/**
 * Every base unit paid landed in exactly one claimable balance: for every Settled payment
 * paid = provider share + fee with fee = ⌊paid × feeBps / 10,000⌋; Σ paid = Σ shares + Σ fees;
 * the per-pair totals are the sums of their payments; and each payee's earnings are the shares
 * and fees paid to it.
 */
export const feeSplit: ReconcileCheck = {
  name: "fee-split",
  title: "Σ paid = Σ provider shares + Σ fees, and every payee earned exactly its shares and fees",
  async run({ chain, feeBps }) {
    const settlements = await chain.settlements();
    let paid = 0n;
    let shares = 0n;
    let fees = 0n;
    const pairs = new Map<string, { paid: bigint; share: bigint; fee: bigint; last: bigint }>();
    const earned = new Map<string, bigint>();
    const credit = (payee: string, amount: bigint) => earned.set(payee, (earned.get(payee) ?? 0n) + amount);
    for (const s of settlements) {
      const where = `the payment in tx ${s.txHash} (log ${s.logIndex}, ${s.payer} → ${s.provider})`;
      if (s.providerShareBase + s.feeBase !== s.paidBase) {
        return differs(`${where}: paid ${s.paidBase} ≠ provider share ${s.providerShareBase} + fee ${s.feeBase}`);
      }
      const fee = (s.paidBase * feeBps) / 10_000n;
      if (s.feeBase !== fee) return differs(`${where}: fee ${s.feeBase}, but ⌊${s.paidBase} × ${feeBps} / 10000⌋ = ${fee}`);
      if (!s.treasury && s.feeBase > 0n) return differs(`${where}: the fee's treasury is unknown`);
      paid += s.paidBase;
      shares += s.providerShareBase;
      fees += s.feeBase;
      const key = `${s.payer}|${s.provider}`;
      const pair = pairs.get(key) ?? { paid: 0n, share: 0n, fee: 0n, last: 0n };
      pairs.set(key, {
        paid: pair.paid + s.paidBase,
        share: pair.share + s.providerShareBase,
        fee: pair.fee + s.feeBase,
        last: s.cumulativeBase,
      });
      credit(s.provider, s.providerShareBase);
      if (s.treasury) credit(s.treasury, s.feeBase);
    }
    if (paid !== shares + fees) return differs(`Σ paid ${paid} ≠ Σ provider shares ${shares} + Σ fees ${fees}`);

    const stored = await chain.pairSettlements();
    for (const pair of stored) {
      const sums = pairs.get(`${pair.payer}|${pair.provider}`) ?? { paid: 0n, share: 0n, fee: 0n, last: 0n };
      const name = `chain_pair_settlements ${pair.payer} → ${pair.provider}`;
      if (pair.paidBase !== sums.paid) return differs(`${name}: paid ${pair.paidBase}, but its payments sum to ${sums.paid}`);
      if (pair.providerShareBase !== sums.share)
        return differs(`${name}: provider share ${pair.providerShareBase}, but its payments sum to ${sums.share}`);
      if (pair.feeBase !== sums.fee) return differs(`${name}: fee ${pair.feeBase}, but its payments sum to ${sums.fee}`);
      if (pair.settledBase !== sums.last)
        return differs(`${name}: settled ${pair.settledBase}, but its latest payment left it at ${sums.last}`);
      pairs.delete(`${pair.payer}|${pair.provider}`);
    }
    const missing = [...pairs.keys()][0];
    if (missing) return differs(`payments of pair ${missing.replace("|", " → ")} have no chain_pair_settlements row`);

    for (const payee of await chain.allEarnings()) {
      const expected = earned.get(payee.payee) ?? 0n;
      if (payee.earnedBase !== expected) {
        return differs(`chain_earnings ${payee.payee}: earned ${payee.earnedBase}, but the shares and fees paid to it sum to ${expected}`);
      }
      if (payee.earnedBase - payee.claimedBase !== payee.unclaimedBase) {
        return differs(`chain_earnings ${payee.payee}: earned ${payee.earnedBase} − claimed ${payee.claimedBase} ≠ unclaimed ${payee.unclaimedBase}`);
      }
      earned.delete(payee.payee);
    }
    const unrecorded = [...earned].find(([, amount]) => amount > 0n);
    if (unrecorded) return differs(`${unrecorded[0]} was paid ${unrecorded[1]} in shares or fees but has no chain_earnings row`);
    return passed(`Σ paid ${paid} = Σ provider shares ${shares} + Σ fees ${fees} over ${settlements.length} payments`);
  },
};
