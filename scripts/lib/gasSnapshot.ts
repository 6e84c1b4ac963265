import { existsSync, readFileSync, writeFileSync } from "node:fs";

/** Gas figures by stable key, e.g. "settle.existing.100x1.perVoucher". */
export type GasFigures = Record<string, number>;

export interface GasComparison {
  key: string;
  gas: number;
  /** Undefined when the key is new since the snapshot. */
  previous?: number;
}

/** Reads a snapshot written by {@link writeSnapshot}; undefined if there is none yet. */
export function readSnapshot(path: string): GasFigures | undefined {
  if (!existsSync(path)) return undefined;
  const json: unknown = JSON.parse(readFileSync(path, "utf8"));
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new Error(`${path} is not a gas snapshot (an object of gas figures)`);
  }
  for (const [key, value] of Object.entries(json)) {
    if (!Number.isSafeInteger(value)) throw new Error(`${path}: "${key}" is not a whole number of gas`);
  }
  return json as GasFigures;
}

/** Writes the figures with sorted keys, one per line, so a diff shows exactly the lines that moved. */
export function writeSnapshot(path: string, figures: GasFigures): void {
  const sorted = Object.fromEntries(Object.entries(figures).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  writeFileSync(path, `${JSON.stringify(sorted, null, 2)}\n`);
}

/** Pairs each figure with the snapshot's; keys that vanished are returned apart. */
export function compareWithSnapshot(
  current: GasFigures,
  snapshot: GasFigures | undefined,
): { rows: GasComparison[]; removed: string[] } {
  const rows = Object.entries(current).map(([key, gas]) => ({ key, gas, previous: snapshot?.[key] }));
  const removed = Object.keys(snapshot ?? {}).filter((key) => !(key in current));
  return { rows, removed };
}

export function isUnchanged(row: GasComparison): boolean {
  return row.previous === row.gas;
}

export function formatGas(gas: number): string {
  return gas.toLocaleString("en-US");
}

/** "0", "+1,234 (+2.10%)", "-56 (-0.30%)" or "new". */
export function formatDelta(row: GasComparison): string {
  if (row.previous === undefined) return "new";
  const delta = row.gas - row.previous;
  if (delta === 0) return "0";
  const percent = row.previous === 0 ? "" : ` (${delta > 0 ? "+" : ""}${((delta / row.previous) * 100).toFixed(2)}%)`;
  return `${delta > 0 ? "+" : ""}${formatGas(delta)}${percent}`;
}
