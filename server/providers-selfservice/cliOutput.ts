import { writeFileSync } from "node:fs";
import type { CliIo } from "../cli/io";
import type { Printer } from "../cli/output";

/** Writes a document to `out` (then says so), or to standard output when no file is given. */
export function writeOutput(io: CliIo, p: Printer, text: string, out: string | undefined, written: string): void {
  if (out) {
    writeFileSync(out, text);
    p.line(written);
    return;
  }
  io.stdout(text);
}
