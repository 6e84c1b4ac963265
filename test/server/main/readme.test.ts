import { readFileSync } from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { describeConfigMarkdown } from "../../../server/config";

/** The README says what the code does; these fail when one changes without the other. */
const ROOT = path.resolve(__dirname, "../../..");
const readme = () => readFileSync(path.join(ROOT, "README.md"), "utf8");

describe("README", () => {
  it("documents every configuration variable exactly as describeConfigMarkdown() renders it", () => {
    const text = readme();
    const start = text.indexOf("\n", text.indexOf("<!-- config-table:start")) + 1;
    const end = text.indexOf("<!-- config-table:end -->");
    expect(start, "README.md has no config-table markers").to.be.above(0);
    const expected = describeConfigMarkdown();
    expect(
      text.slice(start, end).trim(),
      `README.md's configuration table is out of date; replace it with:\n\n${expected}\n`,
    ).to.equal(expected);
  });

  it("lists every error code the gateway answers with, under its status", () => {
    const source = readFileSync(path.join(ROOT, "server/domain/errors/gatewayErrors.ts"), "utf8");
    const answered = new Set<string>();
    for (const [, status, code] of source.matchAll(/new GatewayError\(\s*(\d{3}),\s*"([a-z_]+)"/g)) {
      answered.add(`${status} ${code}`);
    }
    // An error that ends a stream after its first byte is an event, not a status: its code must be listed, under any status.
    const streamBlock = /STREAM_FAILURE_CODES = \{([^}]*)\}/.exec(source)![1];
    const streamCodes = [...streamBlock.matchAll(/"([a-z_]+)"/g)].map(([, code]) => code);
    expect(answered.size).to.be.above(10);

    const documented = new Set<string>();
    for (const [, status, code] of readme().matchAll(/^\| (\d{3}) \| `([a-z_]+)` \|/gm))
      documented.add(`${status} ${code}`);
    const documentedCodes = new Set([...documented].map((entry) => entry.split(" ")[1]));
    const missing = [
      ...[...answered].filter((entry) => !documented.has(entry)),
      ...streamCodes.filter((code) => !documentedCodes.has(code)),
    ];
    expect(missing, "codes missing from README's error table").to.deep.equal([]);
  });

  it("starts with the two commands of the quick start", () => {
    const quickStart = readme().split("## Quick start")[1].split("```sh")[1].split("```")[0];
    const commands = quickStart
      .split("\n")
      .map((line) => line.replace(/#.*/, "").trim())
      .filter(Boolean);
    expect(commands).to.deep.equal(["npm install && npm start", "npm test"]);
  });
});
