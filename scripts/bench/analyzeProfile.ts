/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): the functions with
 * the most self time, the files and packages they live in, and the inclusive
 * time of the gateway's own functions. Only samples inside the given windows
 * (the measured phases; V8's timestamps and process.hrtime share the
 * monotonic clock) are counted, so start-up and idle gaps stay out. With the
 * source map of a bundle, positions are reported in the TypeScript sources.
 *
 *   npx tsx scripts/bench/analyzeProfile.ts <file.cpuprofile.bench.json | file.cpuprofile> [top]
 */
import fs from "node:fs";
import { SourceMap } from "node:module";
import path from "node:path";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  label: string;
  /** Microseconds. */
  selfUs: number;
  share: number;
}

export interface ProfileSummary {
  /** Sampled time that was not idle, µs. */
  busyUs: number;
  totalUs: number;
  topSelf: ProfileEntry[];
  byPlace: ProfileEntry[];
  /** Inclusive (self + callees) time of functions in server/, µs. */
  topInclusiveServer: ProfileEntry[];
  /** Each sample charged to the nearest npm package or gateway file on its stack (node internals and builtins are passed over). */
  byOwner: ProfileEntry[];
}

const ROOT = path.join(__dirname, "..", "..") + path.sep;

/** A window of the profile to count, in microseconds of the monotonic clock (process.hrtime). */
export interface ProfileWindow {
  startUs: number;
  endUs: number;
}

/** Maps a frame of the bundle back to its TypeScript source, when a source map is given. */
class Positions {
  private readonly map: SourceMap | null;
  private readonly bundleUrl: string | null;
  private readonly mapDir: string;
  private readonly cache = new Map<CallFrame, { file: string; line: number }>();

  constructor(sourceMapFile?: string) {
    this.map = sourceMapFile ? new SourceMap(JSON.parse(fs.readFileSync(sourceMapFile, "utf8"))) : null;
    this.mapDir = sourceMapFile ? path.dirname(sourceMapFile) : "";
    this.bundleUrl = sourceMapFile ? sourceMapFile.replace(/\.map$/, "") : null;
  }

  of(frame: CallFrame): { file: string; line: number } {
    let found = this.cache.get(frame);
    if (found) return found;
    let file = frame.url.replace(/^file:\/\//, "");
    let line = frame.lineNumber + 1;
    if (this.map && file === this.bundleUrl) {
      const entry = this.map.findEntry(frame.lineNumber, frame.columnNumber) as {
        originalSource?: string;
        originalLine?: number;
      };
      if (entry.originalSource) {
        file = path.resolve(this.mapDir, entry.originalSource.replace(/^file:\/\//, ""));
        line = (entry.originalLine ?? 0) + 1;
      }
    }
    if (file.startsWith(ROOT)) file = file.slice(ROOT.length);
    found = { file, line };
    this.cache.set(frame, found);
    return found;
  }
}

function place(frame: CallFrame, positions: Positions): string {
  const { file } = positions.of(frame);
  if (!file) return frame.functionName.startsWith("(") ? frame.functionName : "(native/V8 builtins)";
  if (file.startsWith("node:")) return "node: internals";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (pkg) return `npm ${pkg[1]}`;
  return file;
}

/** The npm package or gateway file a frame belongs to; null for node internals, builtins and V8's pseudo-frames. */
function owner(frame: CallFrame, positions: Positions): string | null {
  const { file } = positions.of(frame);
  if (!file || file.startsWith("node:")) return null;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (pkg) return `npm ${pkg[1]}`;
  return file;
}

function label(frame: CallFrame, positions: Positions): string {
  const { file, line } = positions.of(frame);
  const name = frame.functionName || "(anonymous)";
  return file ? `${name} ${file}:${line}` : name;
}

const IDLE = new Set(["(idle)"]);

export function summarizeProfile(
  file: string,
  options: { top?: number; windows?: ProfileWindow[]; sourceMap?: string } = {}
): ProfileSummary {
  const top = options.top ?? 15;
  const windows = options.windows ?? [];
  const positions = new Positions(options.sourceMap);
  const profile = JSON.parse(fs.readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const selfByLabel = new Map<string, number>();
  const selfByPlace = new Map<string, number>();
  const inclusiveServer = new Map<string, number>();
  const selfByOwner = new Map<string, number>();
  let busy = 0;
  let total = 0;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    // timeDeltas[i] is the time since the previous sample; the interval that follows sample i is charged to it.
    at += profile.timeDeltas[i];
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (windows.length && !windows.some((w) => at >= w.startUs && at < w.endUs)) continue;
    const node = byId.get(profile.samples[i]);
    if (!node) continue;
    total += us;
    if (IDLE.has(node.callFrame.functionName)) continue;
    busy += us;
    const own = label(node.callFrame, positions);
    selfByLabel.set(own, (selfByLabel.get(own) ?? 0) + us);
    const where = place(node.callFrame, positions);
    selfByPlace.set(where, (selfByPlace.get(where) ?? 0) + us);
    // Owner: the nearest package or gateway file on the stack (a syscall made by pg is pg's).
    let charged = "(node internals only: HTTP parsing, timers, stream plumbing)";
    if (node.callFrame.functionName === "(garbage collector)" || node.callFrame.functionName === "(program)") {
      charged = node.callFrame.functionName;
    } else {
      for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
        const found = owner(byId.get(id)!.callFrame, positions);
        if (found) {
          charged = found;
          break;
        }
      }
    }
    selfByOwner.set(charged, (selfByOwner.get(charged) ?? 0) + us);
    // Inclusive: every distinct server/ function on the stack, once per sample.
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)!.callFrame;
      if (!positions.of(frame).file.startsWith("server/")) continue;
      const name = label(frame, positions);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusiveServer.set(name, (inclusiveServer.get(name) ?? 0) + us);
    }
  }
  const rank = (map: Map<string, number>, n: number): ProfileEntry[] =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([entry, us]) => ({ label: entry, selfUs: us, share: busy ? us / busy : 0 }));
  return {
    busyUs: busy,
    totalUs: total,
    topSelf: rank(selfByLabel, top),
    byPlace: rank(selfByPlace, top),
    topInclusiveServer: rank(inclusiveServer, top),
    byOwner: rank(selfByOwner, top),
  };
}

export function formatProfileSummary(summary: ProfileSummary, requests?: number): string {
  const perRequest = (us: number) => (requests ? `${(us / requests).toFixed(1).padStart(7)} µs/req` : "");
  const lines: string[] = [];
  const section = (title: string, entries: ProfileEntry[]) => {
    lines.push(title);
    entries.forEach((entry, i) =>
      lines.push(
        `  ${String(i + 1).padStart(2)}. ${(entry.share * 100).toFixed(1).padStart(5)}%  ${(entry.selfUs / 1000)
          .toFixed(0)
          .padStart(6)} ms ${perRequest(entry.selfUs)}  ${entry.label}`
      )
    );
  };
  lines.push(
    `busy ${(summary.busyUs / 1000).toFixed(0)} ms of ${(summary.totalUs / 1000).toFixed(0)} ms counted` +
      (requests
        ? ` (${requests} requests: ${(summary.busyUs / requests).toFixed(
            0
          )} µs of CPU each, profiler overhead included)`
        : "")
  );
  section("Top functions by self time (share of busy time):", summary.topSelf);
  section("Self time by package / file:", summary.byPlace);
  section("Time by owner (a sample goes to the nearest npm package or gateway file on its stack):", summary.byOwner);
  section(
    "Gateway functions (server/) by inclusive time (callees included; a middleware includes what runs before its first await):",
    summary.topInclusiveServer
  );
  return lines.join("\n");
}

if (require.main === module) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    console.error("usage: analyzeProfile.ts <file.cpuprofile | file.cpuprofile.bench.json> [top]");
    process.exit(2);
  }
  // The bench writes <profile>.bench.json next to each profile: its measured windows, request count and source map.
  const bench = file.endsWith(".bench.json")
    ? (JSON.parse(fs.readFileSync(file, "utf8")) as {
        profile: string;
        windows: ProfileWindow[];
        requests: number;
        sourceMap: string | null;
      })
    : null;
  const summary = summarizeProfile(bench?.profile ?? file, {
    top: Number(top ?? 15),
    windows: bench?.windows,
    sourceMap: bench?.sourceMap ?? undefined,
  });
  console.log(formatProfileSummary(summary, bench?.requests));
}
