import { useCallback, useEffect, useState } from "react";
import { api, type Account } from "../api";
import { UsageHistory } from "./Usage";
import { Withdrawal } from "./Withdrawal";
import { AmountTile, Usdc } from "../money";
import { plainError } from "../wallet";
import { Deposit } from "./Deposit";

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
      {account?.chain.escrow_address && <Withdrawal escrow={account.chain.escrow_address} onChanged={loadAccount} refreshKey={refreshKey} />}
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
