import { useCallback, useEffect, useState } from "react";
import { api, type Account } from "../api";
import { UsageHistory } from "./Usage";
import { Withdrawal } from "./Withdrawal";
import { AmountTile, Usdc, UsdcBase, usdcToBase } from "../money";
import { depositWithPermit, plainError, walletTokenBalance, type DepositStep } from "../wallet";

const STEPS: { step: DepositStep; label: string }[] = [
  { step: "signing", label: "Sign the permit" },
  { step: "submitted", label: "Submitted" },
  { step: "confirmed", label: "Confirmed" },
];

export function AccountPage() {
  const [account, setAccount] = useState<Account | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [refreshKey, setRefreshKey] = useState(0);
  const loadAccount = useCallback(
    () =>
      api
        .account()
        .then((a) => {
          setAccount(a);
          setRefreshKey((k) => k + 1);
        })
        .catch((e) => setError(plainError(e))),
    [],
  );
  useEffect(() => {
    void loadAccount();
  }, [loadAccount]);

  return (
    <>
      <section className="card">
        <div className="section-head">
          <h1>Account</h1>
          <button className="link" onClick={() => void loadAccount()}>Refresh</button>
        </div>
        {error && <p className="error" role="alert">{error}</p>}
        {!account && !error && <p className="muted">Loading…</p>}
        {account && <Balance account={account} />}
      </section>
      {account && <Deposit account={account} onDeposited={loadAccount} />}
      {account?.chain.escrow_address && <Withdrawal escrow={account.chain.escrow_address} onChanged={loadAccount} />}
      <UsageHistory refreshKey={refreshKey} />
    </>
  );
}

function Balance({ account }: { account: Account }) {
  const b = account.balance;
  return (
    <>
      <p className="muted">
        Escrow balance of <code>{account.address}</code> (updated {new Date(b.updated_at).toLocaleTimeString()}).
      </p>
      <div className="tiles" data-testid="balance">
        <AmountTile label="Available" hint="What new requests can spend" amount={b.available} testId="available" primary />
        <AmountTile label="Held by requests in flight" hint="The worst case of the requests running now" amount={b.held} testId="held" />
        <AmountTile label="Used, not yet settled" hint="Metered usage the next settlement pays on chain" amount={b.unsettled} testId="unsettled" />
        <AmountTile
          label="Thawing"
          hint={b.thaw_ends_at ? `Withdrawable after ${new Date(b.thaw_ends_at).toLocaleString()}` : "Asked to be withdrawn; not spendable"}
          amount={b.thawing}
          testId="thawing"
        />
      </div>
      <p className="muted small">
        On-chain available in the escrow: <Usdc amount={b.onchain_available} /> · Escrow{" "}
        <code>{account.chain.escrow_address ?? "not configured"}</code> · Token <code>{account.chain.token_address ?? "—"}</code> · Chain{" "}
        {account.chain.chain_id}
      </p>
    </>
  );
}

function Deposit({ account, onDeposited }: { account: Account; onDeposited: () => Promise<unknown> }) {
  const [amount, setAmount] = useState("");
  const [step, setStep] = useState<DepositStep | null>(null);
  const [txHash, setTxHash] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [walletBalance, setWalletBalance] = useState<bigint | null>(null);
  const [mirrored, setMirrored] = useState(false);
  const { escrow_address: escrow, token_address: token } = account.chain;

  useEffect(() => {
    if (token) walletTokenBalance(token).then(setWalletBalance).catch(() => setWalletBalance(null));
  }, [token, step]);

  if (!escrow || !token) {
    return (
      <section className="card">
        <h2>Deposit</h2>
        <p className="muted">This gateway has no escrow configured, so deposits are not available here.</p>
      </section>
    );
  }

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    setError(null);
    setTxHash(null);
    setMirrored(false);
    const base = usdcToBase(amount);
    if (base === null || base === 0n) {
      setError("Enter an amount of USDC greater than 0, with at most 6 decimals.");
      return;
    }
    const before = BigInt(account.balance.onchain_available.base.split(".")[0]);
    try {
      await depositWithPermit(token, escrow, base, (s, detail) => {
        setStep(s);
        if (detail) setTxHash(detail);
      });
      setAmount("");
      // The gateway counts the deposit once its chain watcher has mirrored it (a few blocks).
      for (let i = 0; i < 60; i++) {
        const next = await api.account();
        if (BigInt(next.balance.onchain_available.base.split(".")[0]) >= before + base) {
          setMirrored(true);
          break;
        }
        await new Promise((wake) => setTimeout(wake, 1000));
      }
      await onDeposited();
    } catch (e) {
      setStep(null);
      setError(plainError(e));
    }
  };

  const stepIndex = step ? STEPS.findIndex((s) => s.step === step) : -1;
  return (
    <section className="card">
      <h2>Deposit USDC</h2>
      <p className="muted">
        One signature: your wallet signs a permit for the escrow, then sends one transaction. Your wallet holds{" "}
        {walletBalance === null ? "—" : <span data-testid="wallet-balance"><UsdcBase base={walletBalance} /></span>}.
      </p>
      <form className="row" onSubmit={submit}>
        <label>
          Amount (USDC)
          <input value={amount} onChange={(e) => setAmount(e.target.value)} placeholder="5" inputMode="decimal" data-testid="deposit-amount" />
        </label>
        <button type="submit" disabled={step === "signing" || step === "submitted"}>Deposit with permit</button>
      </form>
      {step && (
        <ol className="progress" data-testid="deposit-progress">
          {STEPS.map((s, i) => (
            <li key={s.step} className={i < stepIndex || step === "confirmed" ? "done" : i === stepIndex ? "current" : ""}>
              {s.label}
            </li>
          ))}
        </ol>
      )}
      {txHash && <p className="muted small">Transaction <code>{txHash}</code></p>}
      {step === "confirmed" && (
        <p className={mirrored ? "ok" : "muted"} data-testid="deposit-status">
          {mirrored ? "Deposit confirmed and counted in your balance." : "Confirmed on chain; waiting for the gateway to count it…"}
        </p>
      )}
      {error && <p className="error" role="alert">{error}</p>}
    </section>
  );
}
