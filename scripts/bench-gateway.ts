/**
 * Gateway benchmark (issue 4, item 10; docs/bench-gateway.md):
 *
 *   npm run bench:gateway
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:gateway
 *
 * A fast mock upstream, then autocannon against it directly, through the
 * ShareAI gateway (real Postgres ledger: every request reserves a hold and
 * commits its durable usage record) and through Portkey's open-source gateway,
 * in the same run: non-stream at concurrency 1, 16 and 64, stream at 16. The
 * load generator runs pinned to one CPU, the upstream and the gateways to the
 * other (taskset); Postgres is not pinned. Each configuration runs a warm-up,
 * then a fixed measured duration, and prints req/s, p50/p99, the gateway's CPU
 * time per request (/proc utime+stime), its peak RSS, the added latency and
 * throughput ratio against direct, ShareAI ÷ Portkey ratios, and the issue's
 * targets marked met/missed. Any non-2xx or socket error fails the run.
 *
 * Environment:
 *   DATABASE_URL          Postgres server for the ledger; a database is created for the run and dropped.
 *                         Unset: an embedded Postgres (fsync on) in a temporary folder.
 *   BENCH_DURATION_S      measured seconds per configuration and target (default 5)
 *   BENCH_WARMUP_S        warm-up seconds before each (default 1)
 *   BENCH_MAX_OTHERS      a row during which processes outside the benchmark used more than this % of the
 *                         machine is measured again (default 10)
 *   BENCH_RETRIES         at most this many times (default 2); the least disturbed attempt is kept
 *   BENCH_ROUNDS          repeat the whole matrix this many times (targets in rotated order) and report,
 *                         per row, the round with the median req/s (default 1)
 *   BENCH_LOAD_CPU        CPU of the load generator (default 0)
 *   BENCH_SERVER_CPU      CPU of the upstream and the gateways (default 1)
 *   BENCH_UPSTREAM_CPU    CPU of the mock upstream alone (default BENCH_SERVER_CPU; a profile is cleaner
 *                         with the gateway alone on its CPU: BENCH_UPSTREAM_CPU=0)
 *   BENCH_CONFIGS         comma list of configurations to run (default: all):
 *                         nonstream-c1, nonstream-c16, nonstream-c64, stream-c16
 *   BENCH_TARGETS         comma list among direct, shareai, portkey (default: all)
 *   BENCH_GATEWAY_LOG_LEVEL  the gateway's LOG_LEVEL (default info, as in production; stdout discarded)
 *   BENCH_GATEWAY_RUNTIME bundle (default: an esbuild bundle run by plain node, as `npm start` runs the
 *                         server) or tsx (as bin/shareai.js runs it; see scripts/bench/gatewayRuntime.ts)
 *   BENCH_GATEWAY_NODE_FLAGS  node flags for the gateway process (default: those of `npm start`, from
 *                         package.json's start script; "" for none)
 *   BENCH_PROFILE         a folder: run the gateway under `node --cpu-prof` (100 µs sampling; with the
 *                         bundle runtime, positions map to the sources), write the profile there and print the hot spots of the measured
 *                         windows (profiling slows the gateway down: run it on its own, e.g.
 *                         BENCH_CONFIGS=nonstream-c16 BENCH_TARGETS=shareai BENCH_UPSTREAM_CPU=0)
 *   BENCH_STRICT=1        exit 1 when a target is missed (errors always exit 1)
 *   BENCH_SYNCHRONOUS_COMMIT=off  diagnostic only: the ledger database commits without waiting for its WAL
 *                         flush (usage records are then NOT durable when answered), to show the flush's share
 *   BENCH_KEEP_DATABASE=1 keep the ledger database (DATABASE_URL only) to inspect it afterwards
 *   BENCH_VERBOSE=1       echo the children's stderr
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { findFreePort } from "../server/persistence/freePort";
import {
  createBenchDatabase,
  seedLedger,
  tallyLedger,
  BENCH_MODEL_ID,
  PostgresBackends,
  type BenchDatabase,
} from "./bench/benchDatabase";
import { COMPLETION_TEXT, UPSTREAM_MODEL } from "./bench/fastUpstream";
import type { LoadResult, LoadSpec } from "./bench/loadGenerator";
import { NODE_TSX, PinnedProcess, waitForHttp } from "./bench/processes";
import { CpuWindow, type ProcessCpu, cpuSeconds, memory, processCpuTable } from "./bench/procStats";
import { portkeyHeaders, startPortkey } from "./bench/portkey";
import {
  type BenchConfig,
  type Measurement,
  type TargetName,
  TARGET_LABELS,
  checkTargets,
  configLabel,
  formatPeerTable,
  formatResultsTable,
  formatTargets,
} from "./bench/report";
import { type ProfileWindow, formatProfileSummary, summarizeProfile } from "./bench/analyzeProfile";
import { type GatewayLaunch, type GatewayRuntime, prepareGateway } from "./bench/gatewayRuntime";
import { startScriptNodeFlags } from "./lib/startScript";

const ROOT = path.join(__dirname, "..");
const MIB = 1024 * 1024;

const ALL_CONFIGS: BenchConfig[] = [
  { id: "nonstream-c1", stream: false, connections: 1 },
  { id: "nonstream-c16", stream: false, connections: 16 },
  { id: "nonstream-c64", stream: false, connections: 64 },
  { id: "stream-c16", stream: true, connections: 16 },
];
const ALL_TARGETS: TargetName[] = ["direct", "shareai", "portkey"];

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got ${raw}`);
  return value;
}

function envList<T extends string>(name: string, all: readonly T[]): T[] {
  const raw = process.env[name];
  if (!raw) return [...all];
  const picked = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = picked.filter((p) => !all.includes(p as T));
  if (unknown.length) throw new Error(`${name}: unknown ${unknown.join(", ")} (known: ${all.join(", ")})`);
  return picked as T[];
}

/** The chat request every target gets: the same messages, only the model name differs. */
function requestBody(model: string, stream: boolean): string {
  return JSON.stringify({
    model,
    messages: [
      { role: "system", content: "You are a helpful assistant." },
      { role: "user", content: "Say hello in one short sentence." },
    ],
    max_tokens: 64,
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  });
}

interface Target {
  name: TargetName;
  chatUrl: string;
  headers: Record<string, string>;
  model: string;
  /** The process whose CPU and RSS are the target's own (none for direct: it is the upstream). */
  process: PinnedProcess | null;
}

/** One request of each kind before the load, to fail early and clearly if a target answers wrongly. */
async function sanityCheck(target: Target): Promise<number> {
  let served = 0;
  for (const stream of [false, true]) {
    const response = await fetch(target.chatUrl, {
      method: "POST",
      headers: target.headers,
      body: requestBody(target.model, stream),
    });
    const text = await response.text();
    const problem = (why: string) =>
      new Error(
        `${TARGET_LABELS[target.name]} ${stream ? "stream" : "non-stream"} sanity check: ${why}\n${text.slice(0, 600)}`
      );
    if (response.status !== 200) throw problem(`status ${response.status}`);
    if (stream) {
      if (!response.headers.get("content-type")?.startsWith("text/event-stream")) throw problem("not an event stream");
      if (!text.trimEnd().endsWith("data: [DONE]")) throw problem("no data: [DONE] at the end");
      if (!/"usage":\{"prompt_tokens"/.test(text)) throw problem("no usage chunk");
      const content = [...text.matchAll(/"content":"([^"]*)"/g)].map((m) => m[1]).join("");
      if (content !== COMPLETION_TEXT) throw problem(`content ${JSON.stringify(content)}`);
    } else {
      const body = JSON.parse(text);
      if (body.choices?.[0]?.message?.content !== COMPLETION_TEXT) throw problem("unexpected content");
      if (typeof body.usage?.prompt_tokens !== "number") throw problem("no usage");
    }
    served += 1;
  }
  return served;
}

function runLoad(spec: LoadSpec, cpu: string | null, onMeasureStart: (loaderPid: number) => void): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    let result: LoadResult | null = null;
    const loader = new PinnedProcess({
      name: "autocannon",
      cpu,
      cwd: ROOT,
      command: [...NODE_TSX, path.join(__dirname, "bench", "loadGenerator.ts"), JSON.stringify(spec)],
      onStdoutLine: (line) => {
        if (line === "MEASURE_START") onMeasureStart(loader.pid);
        else if (line.startsWith("RESULT ")) result = JSON.parse(line.slice("RESULT ".length)) as LoadResult;
      },
    });
    loader.exited.then(() => {
      if (result && loader.exitCode === 0) resolve(result);
      else reject(new Error(`the load generator failed: ${loader.describeExit()}`));
    });
  });
}

/**
 * One row: the load generator's run, and around its measured phase the CPU of
 * the target, the mock, the load generator, the ledger's Postgres backends and
 * the whole machine (what is left is other work sharing the machine), and the
 * target's RSS.
 */
async function measureRun(
  spec: LoadSpec,
  config: BenchConfig,
  target: Target,
  context: {
    loadCpu: string | null;
    upstream: PinnedProcess;
    backends: PostgresBackends | null;
    /** This benchmark's own processes (the mock, every gateway), besides this one and the load generator. */
    ownPids: () => number[];
  }
): Promise<Measurement> {
  const nowUs = () => Number(process.hrtime.bigint() / 1000n);
  const noDatabases = Promise.resolve(new Map<number, string | null>());
  interface Start {
    atUs: number;
    target: CpuWindow | null;
    upstream: number;
    loaderPid: number;
    processes: Map<number, ProcessCpu>;
    databases: Promise<Map<number, string | null>>;
  }
  let start: Start | null = null;
  const load = await runLoad(spec, context.loadCpu, (loaderPid) => {
    start = {
      atUs: nowUs(),
      target: target.process ? new CpuWindow(target.process.pid) : null,
      upstream: cpuSeconds(context.upstream.pid),
      loaderPid,
      processes: processCpuTable(),
      databases: context.backends?.databases() ?? noDatabases,
    };
  });
  const begin = start as Start | null;
  if (!begin) throw new Error("the load generator never started its measured phase");
  const endUs = nowUs();
  const upstreamCpu = cpuSeconds(context.upstream.pid) - begin.upstream;
  const window = begin.target?.end() ?? null;
  const processes = processCpuTable();
  const databases = new Map([...(await begin.databases), ...(await (context.backends?.databases() ?? noDatabases))]);

  // Every process's CPU in the window: the ledger's Postgres backends are this benchmark's; other user
  // processes (another database's backends included) are other work disturbing the row. Kernel threads
  // and Postgres's shared background processes are neither.
  const own = new Set([process.pid, process.ppid, begin.loaderPid, ...context.ownPids()]);
  let postgresCpu = 0;
  let othersCpu = 0;
  for (const [pid, now] of processes) {
    const used = now.cpu - (begin.processes.get(pid)?.cpu ?? 0);
    if (now.kernelThread || own.has(pid)) continue;
    if (databases.has(pid)) {
      const database = databases.get(pid);
      if (database === context.backends?.database) postgresCpu += used;
      else if (database !== null) othersCpu += used;
    } else {
      othersCpu += used;
    }
  }
  const capacity = ((endUs - begin.atUs) / 1e6) * os.availableParallelism();
  return {
    config,
    target: target.name,
    load,
    cpuSeconds: target.name === "direct" ? upstreamCpu : window?.cpuSeconds ?? null,
    systemSeconds: window?.systemSeconds ?? null,
    upstreamCpuSeconds: upstreamCpu,
    postgresCpuSeconds: postgresCpu,
    othersCpuShare: othersCpu / capacity,
    peakRss: window?.peakRss ?? null,
    hwm: window?.hwm ?? null,
    window: { startUs: begin.atUs, endUs },
  };
}

/** Per configuration and target, the round with the median throughput. */
function medianRounds(all: Measurement[], configs: BenchConfig[], targets: TargetName[]): Measurement[] {
  const picked: Measurement[] = [];
  for (const config of configs) {
    for (const target of targets) {
      const runs = all
        .filter((m) => m.config.id === config.id && m.target === target)
        .sort((a, b) => a.load.requestsPerSecond - b.load.requestsPerSecond);
      if (runs.length) picked.push(runs[Math.floor((runs.length - 1) / 2)]);
    }
  }
  return picked;
}

function formatSpread(all: Measurement[], picked: Measurement[]): string {
  const lines = ["req/s of every round (min … max):"];
  for (const m of picked) {
    const values = all
      .filter((x) => x.config.id === m.config.id && x.target === m.target)
      .map((x) => Math.round(x.load.requestsPerSecond));
    lines.push(`  ${configLabel(m.config).padEnd(16)} ${TARGET_LABELS[m.target].padEnd(14)} ${values.join(", ")}`);
  }
  return lines.join("\n");
}

/** A latency for the log; null when there was no 2xx to measure (NaN does not survive JSON). */
function ms(value: number | null): string {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(2) : "–";
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

async function main(): Promise<number> {
  const durationSeconds = envNumber("BENCH_DURATION_S", 5);
  const warmupSeconds = envNumber("BENCH_WARMUP_S", 1);
  const rounds = Math.max(1, Math.floor(envNumber("BENCH_ROUNDS", 1)));
  const maxOthers = envNumber("BENCH_MAX_OTHERS", 10) / 100;
  const retries = Math.floor(envNumber("BENCH_RETRIES", 2));
  const configs = envList(
    "BENCH_CONFIGS",
    ALL_CONFIGS.map((c) => c.id)
  ).map((id) => ALL_CONFIGS.find((c) => c.id === id)!);
  const targets = envList("BENCH_TARGETS", ALL_TARGETS);
  const profileDir = process.env.BENCH_PROFILE ? path.resolve(process.env.BENCH_PROFILE) : null;
  const runtime = (process.env.BENCH_GATEWAY_RUNTIME || "bundle") as GatewayRuntime;
  const gatewayNodeFlags = (process.env.BENCH_GATEWAY_NODE_FLAGS ?? startScriptNodeFlags().join(" ")).split(/\s+/).filter(Boolean);
  if (runtime !== "tsx" && runtime !== "bundle")
    throw new Error(`BENCH_GATEWAY_RUNTIME must be tsx or bundle, got ${runtime}`);
  const cpus = os.availableParallelism();
  let loadCpu: string | null = process.env.BENCH_LOAD_CPU ?? "0";
  let serverCpu: string | null = process.env.BENCH_SERVER_CPU ?? "1";
  let upstreamCpu: string | null = process.env.BENCH_UPSTREAM_CPU ?? serverCpu;
  if (!fs.existsSync("/usr/bin/taskset") && !fs.existsSync("/bin/taskset")) {
    log("warning: taskset not found; nothing is pinned");
    loadCpu = serverCpu = upstreamCpu = null;
  } else if (cpus < 2) {
    log(`warning: ${cpus} CPU; nothing is pinned`);
    loadCpu = serverCpu = upstreamCpu = null;
  }

  const children: PinnedProcess[] = [];
  let database: BenchDatabase | null = null;
  let launch: GatewayLaunch | null = null;
  let backends: PostgresBackends | null = null;
  // Called from the end of the run and from a signal handler, possibly both: it runs once.
  let stopping: Promise<void> | null = null;
  const stopAll = () =>
    (stopping ??= (async () => {
      await Promise.allSettled([...children].reverse().map((child) => child.stop()));
      await backends?.close().catch(() => undefined);
      await database?.drop();
      launch?.cleanup();
    })());
  const onSignal = () => {
    void stopAll().finally(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    // The fast upstream.
    const upstreamPort = await findFreePort();
    const upstream = new PinnedProcess({
      name: "fast-upstream",
      cpu: upstreamCpu,
      cwd: ROOT,
      command: [...NODE_TSX, path.join(__dirname, "bench", "fastUpstream.ts"), String(upstreamPort)],
    });
    children.push(upstream);
    const upstreamBaseUrl = `http://127.0.0.1:${upstreamPort}/v1`;
    await waitForHttp(`${upstreamBaseUrl}/models`, upstream, { status: 200 });

    const targetList: Target[] = [];
    const jsonHeaders = { "content-type": "application/json" };
    if (targets.includes("direct")) {
      targetList.push({
        name: "direct",
        chatUrl: `${upstreamBaseUrl}/chat/completions`,
        headers: { ...jsonHeaders, authorization: "Bearer sk-bench-upstream" },
        model: UPSTREAM_MODEL,
        process: null,
      });
    }

    // The ShareAI gateway on a fresh, seeded ledger database.
    let seeded: Awaited<ReturnType<typeof seedLedger>> | null = null;
    let gateway: PinnedProcess | null = null;
    if (targets.includes("shareai")) {
      database = await createBenchDatabase(process.env.DATABASE_URL || undefined, {
        synchronousCommit: process.env.BENCH_SYNCHRONOUS_COMMIT === "off" ? "off" : "on",
      });
      log(`ledger: ${database.description}`);
      seeded = await seedLedger(database.url, upstreamBaseUrl, UPSTREAM_MODEL);
      backends = await PostgresBackends.connect(database);
      const gatewayPort = await findFreePort();
      const profileFlags = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, "--cpu-prof-interval=100"] : [];
      if (profileDir) fs.mkdirSync(profileDir, { recursive: true });
      const gatewayFlags = [
        ...gatewayNodeFlags,
        ...profileFlags,
      ];
      launch = prepareGateway(runtime, gatewayFlags, profileDir ? path.join(profileDir, "gateway-bundle") : undefined);
      gateway = new PinnedProcess({
        name: "shareai-gateway",
        cpu: serverCpu,
        cwd: ROOT,
        command: launch.command,
        env: {
          ...process.env,
          ...launch.env,
          DATABASE_URL: database.url,
          PORT: String(gatewayPort),
          HOST: "127.0.0.1",
          PUBLIC_BASE_URL: "",
          LOG_LEVEL: process.env.BENCH_GATEWAY_LOG_LEVEL ?? "info",
        },
      });
      children.push(gateway);
      await waitForHttp(`http://127.0.0.1:${gatewayPort}/readyz`, gateway, { status: 200 });
      targetList.push({
        name: "shareai",
        chatUrl: `http://127.0.0.1:${gatewayPort}/v1/chat/completions`,
        headers: { ...jsonHeaders, authorization: `Bearer ${seeded.secret}` },
        model: BENCH_MODEL_ID,
        process: gateway,
      });
    }

    if (targets.includes("portkey")) {
      const portkeyPort = await findFreePort();
      const portkey = await startPortkey({ cpu: serverCpu, port: portkeyPort });
      children.push(portkey);
      targetList.push({
        name: "portkey",
        chatUrl: `http://127.0.0.1:${portkeyPort}/v1/chat/completions`,
        headers: portkeyHeaders(upstreamBaseUrl),
        model: UPSTREAM_MODEL,
        process: portkey,
      });
    }

    let shareaiServed = 0;
    for (const target of targetList) {
      const served = await sanityCheck(target);
      if (target.name === "shareai") shareaiServed += served;
    }

    const pinning =
      `load generator (autocannon 8) on CPU ${loadCpu ?? "any"}, fast mock upstream on CPU ${upstreamCpu ?? "any"}, ` +
      `ShareAI and Portkey on CPU ${serverCpu ?? "any"}, Postgres not pinned`;
    log(`pinning: ${pinning}; ${warmupSeconds} s warm-up + ${durationSeconds} s per run`);
    const startedAt = new Date();
    const allMeasurements: Measurement[] = [];
    /** Every run, re-measured ones included: errors anywhere fail the benchmark. */
    const attempts: Measurement[] = [];
    const gatewayWindows: ProfileWindow[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const config of configs) {
        // Later rounds rotate the order of the targets, so that no target always runs first or last.
        const ordered = targetList.map((_, i) => targetList[(i + round) % targetList.length]);
        for (const target of ordered) {
          const spec: LoadSpec = {
            url: target.chatUrl,
            headers: target.headers,
            body: requestBody(target.model, config.stream),
            connections: config.connections,
            warmupSeconds,
            durationSeconds,
          };
          // On a shared machine, a row disturbed by other work is measured again; the least disturbed is kept.
          let kept: Measurement | null = null;
          for (let attempt = 0; ; attempt++) {
            const measurement = await measureRun(spec, config, target, {
              loadCpu,
              upstream,
              backends,
              ownPids: () => children.map((child) => child.child.pid ?? 0),
            });
            attempts.push(measurement);
            const { load } = measurement;
            if (target.name === "shareai") {
              gatewayWindows.push(measurement.window);
              shareaiServed += load.ok + load.warmupOk;
            }
            log(
              `${rounds > 1 ? `round ${round + 1} ` : ""}${configLabel(config).padEnd(16)} ` +
                `${TARGET_LABELS[target.name].padEnd(14)} ${Math.round(load.requestsPerSecond)
                  .toString()
                  .padStart(6)} req/s  p50 ${ms(load.latency.p50)} ms  p99 ${ms(load.latency.p99)} ms  ` +
                `non-2xx ${load.non2xx}  errors ${load.errors + load.timeouts}  others ${(
                  measurement.othersCpuShare * 100
                ).toFixed(0)}%` +
                (measurement.peakRss === null ? "" : `  RSS ${(measurement.peakRss / MIB).toFixed(0)} MiB`)
            );
            if (!kept || measurement.othersCpuShare < kept.othersCpuShare) kept = measurement;
            if (measurement.othersCpuShare <= maxOthers || attempt >= retries) break;
            log(`  disturbed by other work on the machine: measuring it again`);
          }
          allMeasurements.push(kept);
        }
      }
    }
    const measurements = medianRounds(
      allMeasurements,
      configs,
      targetList.map((t) => t.name)
    );

    // Every 2xx a client received through ShareAI must have its durable usage record.
    const ledgerLines: string[] = [];
    let ledgerOk = true;
    if (database && seeded && gateway) {
      // Requests cut off when a run ended may still be finishing: let them.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const tally = await tallyLedger(database.url, seeded.account);
      ledgerOk = tally.completed >= shareaiServed;
      ledgerLines.push(
        `ledger: ${tally.usageRecords.toLocaleString("en-US")} usage records (${tally.completed.toLocaleString(
          "en-US"
        )} completed) ` +
          `for ${shareaiServed.toLocaleString(
            "en-US"
          )} 2xx responses received through ShareAI (warm-ups and sanity checks included): ` +
          (ledgerOk ? "every response has its durable record" : "MISMATCH: responses without a usage record")
      );
      if (tally.usageRecords > 0) {
        const perRequest = (tally.transactions / tally.usageRecords).toFixed(2);
        ledgerLines.push(
          `ledger transactions: ${tally.transactions.toLocaleString("en-US")} for ${tally.usageRecords.toLocaleString("en-US")} ` +
            `requests, ${perRequest} per request over the whole run (a reserve and a commit each, grouped; 2.00 without grouping)`
        );
      }
      if (tally.liveHolds > 0) {
        ledgerLines.push(
          `WARNING: ${tally.liveHolds} holds (${tally.heldMicros} µ-base) left behind, 2 s after the last run, by requests ` +
            `whose client disconnected when a run ended; see "Holds left behind" in docs/bench-gateway.md`
        );
      }
    }

    const gatewayHwm = gateway && !gateway.hasExited ? memory(gateway.pid).hwm : null;
    const errors = attempts.filter(
      (m) => m.load.non2xx > 0 || m.load.errors > 0 || m.load.timeouts > 0 || m.load.warmupFailures > 0
    );
    const checks = checkTargets(measurements);

    const out: string[] = [];
    out.push("");
    out.push(
      `ShareAI gateway benchmark, ${startedAt.toISOString()}: Node ${process.version}, ${cpus} CPUs (${
        os.cpus()[0]?.model ?? "?"
      })`
    );
    out.push(`pinned with taskset: ${pinning}`);
    if (database) {
      const flags = gatewayNodeFlags.length > 0 ? gatewayNodeFlags.join(" ") : "none";
      out.push(`ShareAI ledger: ${database.description}; gateway runtime: ${runtime}, node flags: ${flags}`);
    }
    out.push(
      `${warmupSeconds} s warm-up, then ${durationSeconds} s measured per row; latencies are of 2xx responses, whole body received` +
        (rounds > 1 ? `; ${rounds} rounds, each row is the round with the median req/s` : "")
    );
    out.push("");
    out.push(formatResultsTable(measurements));
    if (rounds > 1) out.push(formatSpread(allMeasurements, measurements));
    out.push("");
    out.push(
      [
        "+p50/+p99: added latency vs direct at the same configuration. × direct: throughput ratio vs direct.",
        "CPU µs/req: the gateway process's utime+stime over the window ÷ 2xx responses (direct: the mock's); sys: the",
        "kernel-mode part of it (system calls, loopback TCP). mock µs/req, PG µs/req: CPU per request, in the same window,",
        "of the mock upstream and of the Postgres backends serving the ledger database. RSS: highest VmRSS, polled every",
        "50 ms. others: CPU used in the window by processes outside this benchmark (other programs, other databases'",
        "backends) as a share of the whole machine (all CPUs = 100%); a row above BENCH_MAX_OTHERS (10%) is measured",
        "again, up to BENCH_RETRIES (2) times, and the least disturbed attempt is kept.",
      ].join("\n")
    );
    if (measurements.some((m) => m.target === "portkey") && measurements.some((m) => m.target === "shareai")) {
      out.push("");
      out.push("ShareAI ÷ Portkey, same run (req/s: higher is better; added latency, CPU and RSS: lower is better):");
      out.push(formatPeerTable(measurements));
    }
    if (checks.length) {
      out.push("");
      out.push("Targets (issue 4, item 10), with the durable usage record of every request:");
      out.push(formatTargets(checks));
      const disturbed = measurements.filter((m) => m.othersCpuShare > maxOthers);
      if (disturbed.length) {
        out.push(
          `note: still disturbed by other work after ${retries} retries, so read these rows with care: ` +
            disturbed
              .map(
                (m) => `${configLabel(m.config)} ${TARGET_LABELS[m.target]} (${(m.othersCpuShare * 100).toFixed(0)}%)`
              )
              .join(", ")
        );
      }
    }
    if (gatewayHwm !== null)
      out.push(`ShareAI gateway VmHWM over the whole run (start-up included): ${(gatewayHwm / MIB).toFixed(0)} MiB`);
    out.push(...ledgerLines);
    if (errors.length) {
      out.push("");
      out.push("ERRORS: runs with non-2xx responses or socket errors:");
      for (const m of errors) {
        out.push(
          `  ${configLabel(m.config)} ${TARGET_LABELS[m.target]}: non-2xx ${m.load.non2xx} ${JSON.stringify(
            m.load.statusCounts
          )}, ` + `errors ${m.load.errors}, timeouts ${m.load.timeouts}, warm-up failures ${m.load.warmupFailures}`
        );
      }
    }
    console.log(out.join("\n"));

    // Profile: stop the gateway so that --cpu-prof writes its file, then summarise it.
    if (profileDir && gateway) {
      const before = new Set(fs.readdirSync(profileDir));
      await gateway.stop();
      const written = fs.readdirSync(profileDir).filter((f) => f.endsWith(".cpuprofile") && !before.has(f));
      if (written.length === 0) {
        log(`no .cpuprofile was written to ${profileDir}: ${gateway.describeExit()}`);
      } else {
        const file = path.join(profileDir, written[0]);
        const served = attempts.filter((m) => m.target === "shareai").reduce((sum, m) => sum + m.load.ok, 0);
        // What analyzeProfile.ts needs to redo the analysis later: `analyzeProfile.ts <this file>`.
        fs.writeFileSync(
          `${file}.bench.json`,
          JSON.stringify(
            { profile: file, windows: gatewayWindows, requests: served, sourceMap: launch?.sourceMap ?? null },
            null,
            2
          )
        );
        console.log(
          `\nCPU profile of the gateway (${runtime}, measured windows only, 100 µs sampling): ${file}` +
            (launch?.sourceMap ? `\n  source map: ${launch.sourceMap}` : "")
        );
        console.log(
          formatProfileSummary(
            summarizeProfile(file, { top: 15, windows: gatewayWindows, sourceMap: launch?.sourceMap ?? undefined }),
            served
          )
        );
      }
    }

    if (errors.length || !ledgerOk) {
      console.error(
        `\nFAILED: ${errors.length ? `${errors.length} run(s) with errors` : ""}${!ledgerOk ? " ledger mismatch" : ""}`
      );
      return 1;
    }
    if (process.env.BENCH_STRICT === "1" && checks.some((c) => c.met === false)) {
      console.error("\nFAILED: a target was missed (BENCH_STRICT=1)");
      return 1;
    }
    return 0;
  } finally {
    await stopAll();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  }
);
