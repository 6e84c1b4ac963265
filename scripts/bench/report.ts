import type { LoadResult } from "./loadGenerator";

/** One configuration (mode + concurrency) against one target, with the /proc figures of its window. */
export interface Measurement {
  config: BenchConfig;
  target: TargetName;
  load: LoadResult;
  /** CPU seconds of the target process (the gateway; the upstream itself for "direct"). */
  cpuSeconds: number | null;
  /** The kernel-mode part of `cpuSeconds` (system calls, the TCP stack); null for direct. */
  systemSeconds: number | null;
  upstreamCpuSeconds: number;
  postgresCpuSeconds: number;
  /** Share of the machine's CPU capacity used by everything that is not this benchmark: other work sharing the machine. */
  othersCpuShare: number;
  /** The measured window, µs of the monotonic clock. */
  window: { startUs: number; endUs: number };
  /** Highest VmRSS polled during the window, bytes (the gateway; null for direct). */
  peakRss: number | null;
  /** VmHWM at the end of the window: the highest RSS since the process started. */
  hwm: number | null;
}

export type TargetName = "direct" | "shareai" | "portkey";
export const TARGET_LABELS: Record<TargetName, string> = {
  direct: "direct (mock)",
  shareai: "ShareAI",
  portkey: "Portkey",
};

export interface BenchConfig {
  id: string;
  stream: boolean;
  connections: number;
}

const MIB = 1024 * 1024;

function pad(text: string, width: number, left = false): string {
  return left ? text.padEnd(width) : text.padStart(width);
}

function fixed(value: number | null | undefined, digits: number): string {
  return value === null || value === undefined || !Number.isFinite(value) ? "–" : value.toFixed(digits);
}

function signed(value: number, digits: number): string {
  return `${value >= 0 ? "+" : ""}${value.toFixed(digits)}`;
}

function thousands(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

export function cpuPerRequestUs(m: Measurement): number | null {
  return m.cpuSeconds === null || m.load.ok === 0 ? null : (m.cpuSeconds * 1e6) / m.load.ok;
}

function perRequestUs(seconds: number, m: Measurement): number | null {
  return m.load.ok === 0 ? null : (seconds * 1e6) / m.load.ok;
}

export function configLabel(config: BenchConfig): string {
  return `${config.stream ? "stream" : "non-stream"} c=${config.connections}`;
}

export interface Row {
  measurement: Measurement;
  direct: Measurement | undefined;
}

export function addedMs(m: Measurement, direct: Measurement | undefined, key: "p50" | "p99"): number | null {
  return direct ? m.load.latency[key] - direct.load.latency[key] : null;
}

/** The main table: every configuration, direct then through each gateway. */
export function formatResultsTable(measurements: Measurement[]): string {
  const header = [
    pad("configuration", 18, true),
    pad("target", 14, true),
    pad("req/s", 8),
    pad("p50 ms", 7),
    pad("p99 ms", 7),
    pad("+p50 ms", 8),
    pad("+p99 ms", 8),
    pad("× direct", 9),
    pad("CPU µs/req", 11),
    pad("sys", 4),
    pad("mock µs/req", 12),
    pad("PG µs/req", 10),
    pad("RSS MiB", 8),
    pad("others", 7),
    pad("non-2xx/err", 12),
  ].join(" ");
  const lines = [header, "-".repeat(header.length)];
  let previous = "";
  for (const m of measurements) {
    const direct = measurements.find((d) => d.config.id === m.config.id && d.target === "direct");
    const isDirect = m.target === "direct";
    const config = configLabel(m.config);
    const plus50 = isDirect ? null : addedMs(m, direct, "p50");
    const plus99 = isDirect ? null : addedMs(m, direct, "p99");
    lines.push(
      [
        pad(config === previous ? "" : config, 18, true),
        pad(TARGET_LABELS[m.target], 14, true),
        pad(thousands(m.load.requestsPerSecond), 8),
        pad(fixed(m.load.latency.p50, 2), 7),
        pad(fixed(m.load.latency.p99, 2), 7),
        pad(plus50 === null ? "" : signed(plus50, 2), 8),
        pad(plus99 === null ? "" : signed(plus99, 2), 8),
        pad(isDirect || !direct ? "" : `${(m.load.requestsPerSecond / direct.load.requestsPerSecond).toFixed(2)}`, 9),
        pad(isDirect ? "" : fixed(cpuPerRequestUs(m), 0), 11),
        pad(
          isDirect || !m.cpuSeconds || m.systemSeconds === null
            ? ""
            : `${((m.systemSeconds / m.cpuSeconds) * 100).toFixed(0)}%`,
          4
        ),
        pad(fixed(perRequestUs(m.upstreamCpuSeconds, m), 0), 12),
        pad(fixed(perRequestUs(m.postgresCpuSeconds, m), 0), 10),
        pad(m.peakRss === null ? "" : fixed(m.peakRss / MIB, 0), 8),
        pad(`${(m.othersCpuShare * 100).toFixed(0)}%`, 7),
        pad(`${m.load.non2xx}/${m.load.errors + m.load.timeouts}`, 12),
      ].join(" ")
    );
    previous = config;
  }
  return lines.join("\n");
}

/** ShareAI's figures as ratios of Portkey's, per configuration. */
export function formatPeerTable(measurements: Measurement[]): string {
  const header = [
    pad("configuration", 18, true),
    pad("req/s ratio", 12),
    pad("+p50 ratio", 11),
    pad("+p99 ratio", 11),
    pad("CPU/req ratio", 14),
    pad("RSS ratio", 10),
  ].join(" ");
  const lines = [header, "-".repeat(header.length)];
  const ids = [...new Set(measurements.map((m) => m.config.id))];
  for (const id of ids) {
    const ours = measurements.find((m) => m.config.id === id && m.target === "shareai");
    const peer = measurements.find((m) => m.config.id === id && m.target === "portkey");
    const direct = measurements.find((m) => m.config.id === id && m.target === "direct");
    if (!ours || !peer) continue;
    const ratio = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : a / b);
    lines.push(
      [
        pad(configLabel(ours.config), 18, true),
        pad(fixed(ratio(ours.load.requestsPerSecond, peer.load.requestsPerSecond), 2), 12),
        pad(fixed(ratio(addedMs(ours, direct, "p50"), addedMs(peer, direct, "p50")), 2), 11),
        pad(fixed(ratio(addedMs(ours, direct, "p99"), addedMs(peer, direct, "p99")), 2), 11),
        pad(fixed(ratio(cpuPerRequestUs(ours), cpuPerRequestUs(peer)), 2), 14),
        pad(fixed(ratio(ours.peakRss, peer.peakRss), 2), 10),
      ].join(" ")
    );
  }
  return lines.join("\n");
}

export interface TargetCheck {
  label: string;
  measured: string;
  target: string;
  met: boolean | null;
}

/** The targets (issue 4, item 10), each next to the figure it is judged on. */
export function checkTargets(measurements: Measurement[]): TargetCheck[] {
  const find = (id: string, target: TargetName) => measurements.find((m) => m.config.id === id && m.target === target);
  const checks: TargetCheck[] = [];
  const c1 = find("nonstream-c1", "shareai");
  const c1Direct = find("nonstream-c1", "direct");
  if (c1 && c1Direct) {
    const added = addedMs(c1, c1Direct, "p50")!;
    checks.push({
      label: "added p50 at c=1 (non-stream)",
      measured: `${(added * 1000).toFixed(0)} µs`,
      target: "≤ 1 ms",
      met: added <= 1,
    });
  }
  const c16 = find("nonstream-c16", "shareai");
  if (c16) {
    const cpu = cpuPerRequestUs(c16)!;
    checks.push({
      label: "gateway CPU per request (non-stream c=16)",
      measured: `${cpu.toFixed(0)} µs`,
      target: "≤ 300 µs",
      met: cpu <= 300,
    });
  }
  const ours = measurements.filter((m) => m.target === "shareai");
  if (ours.length) {
    const worst = ours.reduce((a, b) => ((cpuPerRequestUs(a) ?? 0) >= (cpuPerRequestUs(b) ?? 0) ? a : b));
    const cpu = cpuPerRequestUs(worst)!;
    checks.push({
      label: `  worst configuration (${configLabel(worst.config)})`,
      measured: `${cpu.toFixed(0)} µs`,
      target: "≤ 300 µs",
      met: cpu <= 300,
    });
  }
  const peer16 = find("nonstream-c16", "portkey");
  const direct16 = find("nonstream-c16", "direct");
  if (c16 && peer16) {
    const ratio = c16.load.requestsPerSecond / peer16.load.requestsPerSecond;
    checks.push({
      label: "throughput vs Portkey at c=16 (non-stream)",
      measured: `${ratio.toFixed(2)}× (${thousands(c16.load.requestsPerSecond)} vs ${thousands(
        peer16.load.requestsPerSecond
      )} req/s)`,
      target: "≥ 2×",
      met: ratio >= 2,
    });
    if (direct16) {
      const oursAdded = addedMs(c16, direct16, "p99")!;
      const peerAdded = addedMs(peer16, direct16, "p99")!;
      checks.push({
        label: "added p99 vs Portkey at c=16 (non-stream)",
        measured: `${(oursAdded / peerAdded).toFixed(2)}× (${oursAdded.toFixed(2)} vs ${peerAdded.toFixed(2)} ms)`,
        target: "≤ 0.5×",
        met: oursAdded <= peerAdded / 2,
      });
    }
  }
  if (ours.length) {
    const peak = Math.max(...ours.map((m) => m.peakRss ?? 0));
    checks.push({
      label: "gateway peak RSS under load (all configurations)",
      measured: `${(peak / MIB).toFixed(0)} MiB`,
      target: "≤ 150 MiB",
      met: peak <= 150 * MIB,
    });
  }
  return checks;
}

export function formatTargets(checks: TargetCheck[]): string {
  return checks
    .map(
      (check) =>
        `${pad(check.label, 48, true)} ${pad(check.measured, 34, true)} target ${pad(check.target, 10, true)} ${
          check.met === null ? "" : check.met ? "met" : "MISSED"
        }`
    )
    .join("\n");
}
