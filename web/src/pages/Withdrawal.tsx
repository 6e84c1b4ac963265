import { useCallback, useEffect, useState } from "react";
import { UsdcBase, usdcToBase } from "../money";
import { escrowAction, escrowBalance, plainError, type EscrowAction, type OnchainBalance } from "../wallet";

/**
 * Request a withdrawal, watch the thawing countdown (on the chain's clock), withdraw or cancel.
 * `refreshKey` changes whenever the page reloads the account (a deposit, Refresh): the on-chain
 * figures are read again then too.
 */
export function Withdrawal({ escrow, onChanged, refreshKey }: { escrow: string; onChanged: () => unknown; refreshKey: number }) {
  const [balance, setBalance] = useState<OnchainBalance | null>(null);
  const [loadedAt, setLoadedAt] = useState(0);
  const [now, setNow] = useState(Date.now());
  const [amount, setAmount] = useState("");
  const [pending, setPending] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setBalance(await escrowBalance(escrow));
      setLoadedAt(Date.now());
    } catch (e) {
      setError(plainError(e));
    }
  }, [escrow]);
  useEffect(() => {
    void load();
  }, [load, refreshKey]);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);

  const run = async (label: string, action: EscrowAction) => {
    setError(null);
    setPending(`${label}: waiting for your wallet…`);
    try {
      await escrowAction(escrow, action, () => setPending(`${label}: submitted, waiting for confirmation…`));
      setAmount("");
      await load();
      onChanged();
    } catch (e) {
      setError(plainError(e));
    } finally {
      setPending(null);
    }
  };

  const request = (event: React.FormEvent) => {
    event.preventDefault();
    const base = usdcToBase(amount);
    if (base === null || base === 0n) return setError("Enter an amount of USDC greater than 0, with at most 6 decimals.");
    void run("Withdrawal request", { kind: "request", amountBase: base });
  };

  // Seconds left on the chain's clock, counted down locally since the last read.
  const remaining = balance
    ? Number(balance.thawEndsAt - balance.chainNow) - Math.floor((now - loadedAt) / 1000)
    : 0;
  const thawing = balance && balance.thawing > 0n;
  return (
    <section className="card" data-testid="withdrawal">
      <h2>Withdraw</h2>
      <p className="muted">
        Withdrawing takes two steps: request it, then after the thawing period
        {balance ? ` (${formatDuration(Number(balance.thawingPeriod))})` : ""} withdraw to your wallet. Thawing funds are no longer
        spendable, and usage already made can still be settled from them.
      </p>
      {balance && (
        <p>
          On chain: <span data-testid="withdrawal-onchain-available"><UsdcBase base={balance.available} /></span> available, <UsdcBase base={balance.thawing} /> thawing.
        </p>
      )}
      {thawing && (
        <div className="thaw" data-testid="thaw-status">
          {remaining > 0 ? (
            <span>
              Withdrawable in <strong data-testid="countdown">{formatDuration(remaining)}</strong>
            </span>
          ) : (
            <strong className="ok">Ready to withdraw.</strong>
          )}{" "}
          <button onClick={() => run("Withdrawal", { kind: "withdraw" })} disabled={remaining > 0 || !!pending}>
            Withdraw to my wallet
          </button>{" "}
          <button className="secondary" onClick={() => run("Cancel", { kind: "cancel" })} disabled={!!pending}>
            Cancel withdrawal
          </button>
        </div>
      )}
      <form className="row" onSubmit={request}>
        <label>
          Amount (USDC)
          <input value={amount} onChange={(e) => setAmount(e.target.value)} placeholder="1" inputMode="decimal" data-testid="withdraw-amount" />
        </label>
        <button type="submit" className="secondary" disabled={!!pending}>Request withdrawal</button>
        <button type="button" className="link" onClick={() => void load()}>Refresh</button>
      </form>
      {thawing && <p className="muted small">A new request adds to what is thawing and restarts the countdown.</p>}
      {pending && <p className="muted" data-testid="withdraw-pending">{pending}</p>}
      {error && <p className="error" role="alert">{error}</p>}
    </section>
  );
}

function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (h >= 24) return `${Math.floor(h / 24)} d ${h % 24} h`;
  return h > 0 ? `${h} h ${m.toString().padStart(2, "0")} min` : `${m} min ${rest.toString().padStart(2, "0")} s`;
}
