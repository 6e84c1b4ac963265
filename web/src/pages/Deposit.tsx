import { useEffect, useState } from "react";
import { api, type Account } from "../api";
import { depositToEscrow, type DepositEvent, type DepositMethod, type DepositStage, type StageState } from "../deposit";
import { UsdcBase, usdcToBase } from "../money";
import { detectPermit, PERMIT_UNSUPPORTED_WORDS, type PermitSupport } from "../permit";
import { connectWallet, plainError, walletTokenBalance } from "../wallet";

type Progress = { method: DepositMethod; stages: Partial<Record<DepositStage, { state: StageState; txHash?: string }>> };

const STAGES: Record<DepositMethod, { stage: DepositStage; title: string; signing: string }[]> = {
  permit: [{ stage: "deposit", title: "Permit and deposit", signing: "Sign the permit" }],
  approve: [
    { stage: "approve", title: "1. Approve the escrow to take the amount", signing: "Confirm the approval in your wallet" },
    { stage: "deposit", title: "2. Deposit", signing: "Confirm the deposit in your wallet" },
  ],
};
const STEP_ORDER: StageState[] = ["signing", "submitted", "confirmed"];

/** Deposit USDC into the escrow: with a permit where the token supports it, approve + deposit otherwise. */
export function Deposit({ account, onDeposited }: { account: Account; onDeposited: () => Promise<unknown> }) {
  const [amount, setAmount] = useState("");
  const [permit, setPermit] = useState<PermitSupport | "unknown" | null>(null);
  const [chosen, setChosen] = useState<DepositMethod | null>(null);
  const [progress, setProgress] = useState<Progress | null>(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [walletBalance, setWalletBalance] = useState<bigint | null>(null);
  const [mirrored, setMirrored] = useState(false);
  const { escrow_address: escrow, token_address: token, chain_id: chainId } = account.chain;

  useEffect(() => {
    if (token) walletTokenBalance(token).then(setWalletBalance).catch(() => setWalletBalance(null));
  }, [token, busy]);
  useEffect(() => {
    if (!token) return;
    (async () => {
      const { provider, signer } = await connectWallet();
      const { chainId: walletChainId } = await provider.getNetwork();
      return detectPermit(provider, token, await signer.getAddress(), walletChainId);
    })()
      .then(setPermit)
      .catch(() => setPermit("unknown"));
  }, [token]);

  if (!escrow || !token) {
    return (
      <section className="card">
        <h2>Deposit</h2>
        <p className="muted">This gateway has no escrow configured, so deposits are not available here.</p>
      </section>
    );
  }

  const refusal = permit !== null && permit !== "unknown" && !permit.supported ? permit.reason : null;
  // Permit by default where the token supports it; otherwise the user's choice.
  const method: DepositMethod = refusal ? "approve" : (chosen ?? "permit");

  const onEvent = (event: DepositEvent) => {
    if (event.type === "method") {
      setProgress({ method: event.method, stages: {} });
      if (event.fallbackReason) {
        setNotice(event.fallbackReason);
        setChosen("approve");
      }
    } else {
      setProgress((p) => p && { ...p, stages: { ...p.stages, [event.stage]: { state: event.state, txHash: event.txHash } } });
    }
  };

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    setError(null);
    setNotice(null);
    setMirrored(false);
    setProgress(null);
    const base = usdcToBase(amount);
    if (base === null || base === 0n) {
      setError("Enter an amount of USDC greater than 0, with at most 6 decimals.");
      return;
    }
    const before = BigInt(account.balance.onchain_available.base.split(".")[0]);
    setBusy(true);
    try {
      const { provider, signer } = await connectWallet();
      const { chainId: walletChainId } = await provider.getNetwork();
      if (Number(walletChainId) !== chainId) {
        throw new Error(`Your wallet is on chain ${walletChainId}; the escrow is on chain ${chainId}. Switch networks in your wallet and try again.`);
      }
      await depositToEscrow(signer, { token, escrow, amountBase: base, method }, onEvent);
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
      setError(plainError(e));
    } finally {
      setBusy(false);
    }
  };

  const confirmed = progress?.stages.deposit?.state === "confirmed";
  return (
    <section className="card" data-testid="deposit">
      <h2>Deposit USDC</h2>
      <p className="muted">
        {method === "permit"
          ? "One signature: your wallet signs a permit for the escrow, then sends one transaction."
          : "Two transactions: your wallet approves the escrow to take exactly this amount (skipped when it already may), then deposits it."}{" "}
        Your wallet holds {walletBalance === null ? "—" : <span data-testid="wallet-balance"><UsdcBase base={walletBalance} /></span>}.
      </p>
      <div className="row" style={{ alignItems: "center" }} role="radiogroup" aria-label="Deposit with" data-testid="deposit-method">
        <span className="muted small">Deposit with:</span>
        <MethodButton label="Permit" value="permit" method={method} disabled={busy || refusal !== null} onChoose={setChosen} />
        <MethodButton label="Approve + deposit" value="approve" method={method} disabled={busy} onChoose={setChosen} />
      </div>
      {permit === "unknown" && (
        <p className="muted small" data-testid="permit-unsupported">
          Could not check whether the token supports permits; a permit deposit checks again, and uses approve + deposit if it does not.
        </p>
      )}
      {refusal && (
        <p className="muted small" data-testid="permit-unsupported">
          Permit is not available: {PERMIT_UNSUPPORTED_WORDS[refusal]}.
        </p>
      )}
      <form className="row" onSubmit={submit}>
        <label>
          Amount (USDC)
          <input value={amount} onChange={(e) => setAmount(e.target.value)} placeholder="5" inputMode="decimal" data-testid="deposit-amount" />
        </label>
        <button type="submit" disabled={busy}>{method === "permit" ? "Deposit with permit" : "Approve and deposit"}</button>
      </form>
      {notice && <p className="muted" data-testid="deposit-notice">{notice}</p>}
      {progress && (
        <div data-testid="deposit-progress" data-method={progress.method}>
          {STAGES[progress.method].map(({ stage, title, signing }) => (
            <StageProgress key={stage} stage={stage} title={progress.method === "approve" ? title : null} signing={signing} state={progress.stages[stage]} />
          ))}
        </div>
      )}
      {confirmed && (
        <p className={mirrored ? "ok" : "muted"} data-testid="deposit-status">
          {mirrored ? "Deposit confirmed and counted in your balance." : "Confirmed on chain; waiting for the gateway to count it…"}
        </p>
      )}
      {error && <p className="error" role="alert">{error}</p>}
    </section>
  );
}

function MethodButton(props: { label: string; value: DepositMethod; method: DepositMethod; disabled: boolean; onChoose: (m: DepositMethod) => void }) {
  const checked = props.method === props.value;
  return (
    <button
      type="button"
      role="radio"
      aria-checked={checked}
      className={checked ? "" : "secondary"}
      disabled={props.disabled}
      onClick={() => props.onChoose(props.value)}
    >
      {props.label}
    </button>
  );
}

function StageProgress(props: { stage: DepositStage; title: string | null; signing: string; state?: { state: StageState; txHash?: string } }) {
  const state = props.state?.state;
  if (state === "skipped") {
    return (
      <p className="muted" data-testid={`progress-${props.stage}`} data-state="skipped">
        {props.title}: not needed, the escrow may already take this amount from your wallet.
      </p>
    );
  }
  const current = state ? STEP_ORDER.indexOf(state) : -1;
  const labels = [props.signing, "Submitted", "Confirmed"];
  return (
    <div data-testid={`progress-${props.stage}`} data-state={state ?? "waiting"}>
      {props.title && <h3>{props.title}</h3>}
      <ol className="progress">
        {labels.map((label, i) => (
          <li key={label} className={i < current || state === "confirmed" ? "done" : i === current ? "current" : ""}>
            {label}
          </li>
        ))}
      </ol>
      {props.state?.txHash && <p className="muted small">Transaction <code>{props.state.txHash}</code></p>}
    </div>
  );
}
