import type { Amount } from "./api";

/** `1234567` base units → "1.234567". Exact: bigint arithmetic, never floats. */
export function baseToUsdc(base: bigint): string {
  const negative = base < 0n;
  const abs = negative ? -base : base;
  const whole = abs / 1_000_000n;
  const fraction = (abs % 1_000_000n).toString().padStart(6, "0").replace(/0+$/, "");
  return `${negative ? "-" : ""}${whole}${fraction ? `.${fraction}` : ""}`;
}

/** "1.5" USDC → 1500000n base units; null when not a valid amount with at most 6 decimals. */
export function usdcToBase(text: string): bigint | null {
  const match = /^\s*(\d+)(?:\.(\d{0,6}))?\s*$/.exec(text);
  if (!match) return null;
  return BigInt(match[1]) * 1_000_000n + BigInt((match[2] ?? "").padEnd(6, "0") || "0");
}

/** Shows USDC with the exact base-unit value on hover. */
export function Usdc({ amount, className }: { amount: Amount | null | undefined; className?: string }) {
  if (!amount) return <span className="muted">—</span>;
  return (
    <span className={`money ${className ?? ""}`} title={`${amount.base} base units (1 USDC = 1,000,000)`}>
      {amount.usdc} <span className="unit">USDC</span>
    </span>
  );
}

export function UsdcBase({ base }: { base: bigint | string }) {
  const value = typeof base === "string" ? BigInt(base) : base;
  return <Usdc amount={{ base: value.toString(), usdc: baseToUsdc(value), micros: (value * 1_000_000n).toString() }} />;
}

/** One amount of a balance split (Account and Provider pages): a label, the amount, what it means. */
export function AmountTile(props: { label: string; hint: string; amount: Amount; testId: string; primary?: boolean }) {
  return (
    <div className={`tile ${props.primary ? "primary" : ""}`} data-testid={`tile-${props.testId}`}>
      <div className="tile-label">{props.label}</div>
      <div className="tile-value">
        <Usdc amount={props.amount} />
      </div>
      <div className="tile-hint">{props.hint}</div>
    </div>
  );
}
