import { expect } from "chai";
import { type MemberRewrite, TopLevelRewrite } from "../../../server/domain/chat/topLevelRewrite";
import { seededRandom } from "../http/support/seededRandom";

const setModel = new TopLevelRewrite([{ key: "model", json: '"net/model"', addIfAbsent: true }]);
const dropUsage = new TopLevelRewrite([{ key: "usage", json: null, addIfAbsent: false }]);

/** The rewritten members: every occurrence of a rewritten key changed or gone, missing ones added at the end. */
function expectedMembers(members: [string, unknown][], rewrites: readonly MemberRewrite[]): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const [key, value] of members) {
    const rewrite = rewrites.find((r) => r.key === key);
    if (!rewrite) out.push([key, value]);
    else if (rewrite.json !== null) out.push([key, JSON.parse(rewrite.json)]);
  }
  for (const { key, json, addIfAbsent } of rewrites) {
    if (json !== null && addIfAbsent && !members.some(([k]) => k === key)) out.push([key, JSON.parse(json)]);
  }
  return out;
}

/** An object's members in order, duplicates kept: a plain character-by-character parser, independent of the rewrite's. */
function topLevelMembers(text: string): [string, unknown][] {
  let at = 0;
  const isSpace = (c: string | undefined) => c === " " || c === "\n" || c === "\r" || c === "\t";
  const spaces = () => {
    while (isSpace(text[at])) at++;
  };
  const skipValue = (): void => {
    spaces();
    const c = text[at];
    if (c === '"') {
      at++;
      while (text[at] !== '"') at += text[at] === "\\" ? 2 : 1;
      at++;
    } else if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]";
      at++;
      spaces();
      if (text[at] === close) {
        at++;
        return;
      }
      for (;;) {
        if (c === "{") {
          skipValue();
          spaces();
          at++; // ':'
        }
        skipValue();
        spaces();
        if (text[at++] === close) return;
      }
    } else {
      while (at < text.length && !",}] \n\r\t".includes(text[at])) at++;
    }
  };
  const value = (): unknown => {
    spaces();
    const start = at;
    skipValue();
    return JSON.parse(text.slice(start, at));
  };
  spaces();
  expect(text[at++]).to.equal("{");
  const members: [string, unknown][] = [];
  spaces();
  if (text[at] === "}") return members;
  for (;;) {
    const key = value() as string;
    spaces();
    expect(text[at++]).to.equal(":");
    members.push([key, value()]);
    spaces();
    if (text[at++] === "}") return members;
  }
}

describe("TopLevelRewrite (top-level members rewritten in a JSON object's text)", () => {
  it("replaces the top-level model only, leaving every other character as it was", () => {
    const text =
      '{"id":"x","model":"up/model","choices":[{"index":0,"message":{"content":"say \\"model\\":\\"up/model\\"","model":"inner"}}],"usage":{"prompt_tokens":1.0e1}}';
    expect(setModel.apply(text)).to.equal(
      text.replace('"model":"up/model","choices"', '"model":"net/model","choices"')
    );
  });

  it("reads a model value with escaped quotes and backslashes, and keys spelled with escapes", () => {
    const text = '{"model":"a \\"quoted\\" name \\\\","n":1}';
    expect(setModel.apply(text)).to.equal('{"model":"net/model","n":1}');
    expect(setModel.apply('{"mod\\u0065l":"x","y":"\\\\"}')).to.equal('{"mod\\u0065l":"net/model","y":"\\\\"}');
    // A key that ends in an escaped backslash, then the model.
    expect(setModel.apply('{"a\\\\":"\\"}{[","model":[1,{"b":"]"}]}')).to.equal(
      '{"a\\\\":"\\"}{[","model":"net/model"}'
    );
  });

  it("rewrites every duplicate of a key, adds a missing one at the end, keeps whitespace", () => {
    expect(setModel.apply('{"model":"a","x":1,"model":"b"}')).to.equal(
      '{"model":"net/model","x":1,"model":"net/model"}'
    );
    expect(setModel.apply('{"x":1}')).to.equal('{"x":1,"model":"net/model"}');
    expect(setModel.apply("{}")).to.equal('{"model":"net/model"}');
    expect(setModel.apply(' {\n  "x" : 1 ,\n  "model" :\t"a"\n}\n')).to.equal(
      ' {\n  "x" : 1 ,\n  "model" :\t"net/model"\n}\n'
    );
    expect(setModel.apply('{\n  "x": 1\n}')).to.equal('{\n  "x": 1\n,"model":"net/model"}');
  });

  it("returns the same text when nothing changes", () => {
    const text = '{"model":"net/model","x":[1,2]}';
    expect(setModel.apply(text)).to.equal(text);
    expect(dropUsage.apply('{"x":1}')).to.equal('{"x":1}');
  });

  it("removes members wherever they are, with their separators", () => {
    const cases: [string, string][] = [
      ['{"usage":null}', "{}"],
      ['{"usage":null,"a":1}', '{"a":1}'],
      ['{"a":1,"usage":null}', '{"a":1}'],
      ['{"a":1,"usage":null,"b":2}', '{"a":1,"b":2}'],
      ['{"usage":1,"usage":2,"a":1}', '{"a":1}'],
      ['{"a":1,"usage":{"x":[1]},"usage":null}', '{"a":1}'],
      ['{"usage":1,"a":1,"usage":2}', '{"a":1}'],
      ['{ "a" : 1 , "usage" : null }', '{ "a" : 1 }'],
    ];
    for (const [text, result] of cases) expect(dropUsage.apply(text), text).to.equal(result);
  });

  it("returns null for what is not a JSON object", () => {
    for (const text of ["[1]", '"x"', "null", "", '{"a":1', "{} x"]) expect(setModel.apply(text), text).to.equal(null);
  });

  it("agrees with an independent parser on random objects, layouts and rewrites, duplicates included", () => {
    const random = seededRandom("top-level rewrites");
    // Keys as written in the text: some are the rewritten keys spelled with escapes.
    const keys = ['"id"', '"model"', '"usage"', '"created"', '"choices"', '"mod\\u0065l"', '"q\\"k"', '"\\\\"', '"x"'];
    const strings = ["", "model", '"model":"x"', "a\\b", "}{][,:", "é🎉", '\\"', "\n\t"];
    const value = (depth: number): unknown => {
      switch (random.int(0, depth > 2 ? 3 : 5)) {
        case 0:
          return random.pick(strings);
        case 1:
          return random.pick([0, -1.5, 1e21, 42]);
        case 2:
          return random.pick([true, false, null]);
        case 3:
          return random.pick(strings) + random.pick(strings);
        case 4:
          return Array.from({ length: random.int(0, 3) }, () => value(depth + 1));
        default:
          return Object.fromEntries(
            Array.from({ length: random.int(0, 3) }, () => [random.pick(strings), value(depth + 1)])
          );
      }
    };
    const gap = () => random.pick(["", " ", "\n  ", "\t"]);
    for (let round = 0; round < 3000; round++) {
      const members = Array.from(
        { length: random.int(0, 6) },
        () => `${random.pick(keys)}${gap()}:${gap()}${JSON.stringify(value(0), null, random.pick([0, 2]))}`
      );
      const text = `${gap()}{${gap()}${members.join(`${gap()},${gap()}`)}${gap()}}${gap()}`;
      const rewrites: MemberRewrite[] = ["id", "model", "usage", "created"]
        .filter(() => random.chance(0.6))
        .map((key) => ({
          key,
          json: random.chance(0.3) ? null : JSON.stringify(value(1)),
          addIfAbsent: random.chance(0.5),
        }));
      const result = new TopLevelRewrite(rewrites).apply(text);
      expect(result, `round ${round}: ${text}`).to.be.a("string");
      expect(topLevelMembers(result!), `round ${round}: ${text} → ${result}`).to.deep.equal(
        expectedMembers(topLevelMembers(text), rewrites)
      );
    }
  });
});
