import { readFileSync } from "node:fs";
import path from "node:path";
import { expect } from "chai";
import type { Command } from "commander";
import { buildProgram } from "../../../server/cli/main";

/** docs/cli.md names every command and every option the program has: a new one fails here until documented. */
describe("docs/cli.md", () => {
  const docs = readFileSync(path.resolve(__dirname, "../../../docs/cli.md"), "utf8");
  const program = buildProgram({ env: {}, stdout: () => undefined, stderr: () => undefined });

  function leaves(command: Command, prefix: string[]): { path: string; command: Command }[] {
    const here = [...prefix, command.name()];
    if (command.commands.length === 0) return [{ path: here.join(" "), command }];
    return command.commands.flatMap((sub) => leaves(sub, here));
  }

  it("documents every command with each of its options", () => {
    const all = leaves(program, []);
    expect(all.length).to.be.above(15);
    const missing: string[] = [];
    for (const { path: commandPath, command } of all) {
      if (!docs.includes(commandPath)) missing.push(commandPath);
      for (const option of command.options) {
        const hidden = (option as { hidden?: boolean }).hidden;
        if (!hidden && option.long && option.long !== "--help" && !docs.includes(option.long)) {
          missing.push(`${commandPath} ${option.long}`);
        }
      }
    }
    expect(docs).to.include("--json");
    expect(missing).to.deep.equal([]);
  });
});
