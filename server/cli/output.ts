import type { Command } from "commander";
import { baseUnitsToUsdc, microsToUsdc } from "../domain/money/usdcDecimal";
import type { CliIo } from "./io";

/** What every command prints with: text for people, or JSON (`--json`) for scripts. */
export interface Printer {
  readonly json: boolean;
  /** One line of text; ignored in JSON mode. */
  line(text?: string): void;
  /** A table of rows; ignored in JSON mode. */
  table(headers: string[], rows: string[][], empty?: string): void;
  /** The command's result: printed only in JSON mode, as one JSON document. */
  result(value: unknown): void;
}

export function printer(io: CliIo, json: boolean): Printer {
  return {
    json,
    line(text = "") {
      if (!json) io.stdout(`${text}\n`);
    },
    table(headers, rows, empty = "(none)") {
      if (json) return;
      if (rows.length === 0) {
        io.stdout(`${empty}\n`);
        return;
      }
      io.stdout(renderTable(headers, rows));
    },
    result(value) {
      if (json) io.stdout(`${toJson(value)}\n`);
    },
  };
}

/** The printer for a command's action: JSON when `--json` was given anywhere on the line. */
export function printerFor(io: CliIo, command: Command): Printer {
  return printer(io, command.optsWithGlobals().json === true);
}

/** JSON with bigints as decimal strings: exact, and what JSON.parse gives back as a string. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2);
}

export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => row[column].length)));
  const render = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column])))
      .join("  ")
      .trimEnd();
  return [render(headers), ...rows.map(render)].map((line) => `${line}\n`).join("");
}

/** `1500000n` → `"1.5 USDC"`. */
export function usdc(base: bigint): string {
  return `${baseUnitsToUsdc(base)} USDC`;
}

/** `1500000n` → `"1.5 USDC (1500000 base units)"`: both forms, so a slip between them shows. */
export function usdcWithBase(base: bigint): string {
  return `${baseUnitsToUsdc(base)} USDC (${base} base units)`;
}

export function microsAsUsdc(micros: bigint): string {
  return `${microsToUsdc(micros)} USDC`;
}

/** An upstream's models as `networkId` or `networkId=upstreamName`, comma-separated. */
export function upstreamModelsText(models: Record<string, string>): string {
  return Object.entries(models)
    .map(([networkId, name]) => (name === networkId ? networkId : `${networkId}=${name}`))
    .join(", ");
}

export function dateText(date: Date | null): string {
  return date ? date.toISOString().replace(/\.\d{3}Z$/, "Z") : "-";
}
