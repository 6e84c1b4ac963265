/**
 * The load generator: autocannon, run in its own process so that it can be
 * pinned to a core of its own (`taskset -c 0 node --require tsx/cjs
 * scripts/bench/loadGenerator.ts '<json LoadSpec>'`).
 *
 * It runs a warm-up, prints `MEASURE_START`, runs the measured phase and prints
 * `RESULT <json LoadResult>`. The parent samples the servers' /proc counters
 * between the two lines.
 *
 * Latencies are taken from autocannon's per-response event and kept exactly:
 * autocannon's own histogram counts whole milliseconds, too coarse for a
 * sub-millisecond added latency.
 */
import autocannon from "autocannon";

export interface LoadSpec {
  url: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
}

export interface LoadResult {
  connections: number;
  durationSeconds: number;
  /** Responses received in the measured phase, any status. */
  responses: number;
  ok: number;
  non2xx: number;
  /** Status → count, for everything that was not 2xx. */
  statusCounts: Record<string, number>;
  /** Socket errors and timeouts (no response at all). */
  errors: number;
  timeouts: number;
  requestsPerSecond: number;
  /** Of the 2xx responses, in milliseconds. */
  latency: { p50: number; p90: number; p99: number; mean: number; max: number };
  bytesPerSecond: number;
  /** CPU seconds the load generator itself used in the measured phase. */
  cpuSeconds: number;
  /** 2xx responses of the warm-up (they reach the ledger too). */
  warmupOk: number;
  /** Non-2xx responses, socket errors and timeouts of the warm-up. */
  warmupFailures: number;
}

function run(spec: LoadSpec, seconds: number, onResponse?: (status: number, ms: number) => void) {
  return new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.url,
        method: "POST",
        headers: spec.headers,
        body: spec.body,
        connections: spec.connections,
        pipelining: 1,
        duration: seconds,
        timeout: 10,
      },
      (error, result) => (error ? reject(error) : resolve(result))
    );
    if (onResponse) {
      instance.on("response", (_client: unknown, statusCode: number, _bytes: number, responseTime: number) =>
        onResponse(statusCode, responseTime)
      );
    }
  });
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export async function measure(spec: LoadSpec, onMeasureStart: () => void = () => undefined): Promise<LoadResult> {
  const warmup = spec.warmupSeconds > 0 ? await run(spec, spec.warmupSeconds) : null;
  let latencies = new Float64Array(1 << 16);
  let ok = 0;
  const statusCounts: Record<string, number> = {};
  onMeasureStart();
  const startedAt = process.hrtime.bigint();
  const cpuAtStart = process.cpuUsage();
  const result = await run(spec, spec.durationSeconds, (status, ms) => {
    if (status >= 200 && status < 300) {
      if (ok === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[ok++] = ms;
    } else {
      statusCounts[status] = (statusCounts[status] ?? 0) + 1;
    }
  });
  const elapsedSeconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
  const cpu = process.cpuUsage(cpuAtStart);
  const sorted = latencies.subarray(0, ok).sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  const non2xx = Object.values(statusCounts).reduce((a, b) => a + b, 0);
  return {
    connections: spec.connections,
    durationSeconds: elapsedSeconds,
    responses: ok + non2xx,
    ok,
    non2xx,
    statusCounts,
    errors: result.errors,
    timeouts: result.timeouts,
    requestsPerSecond: ok / spec.durationSeconds,
    latency: {
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      mean: ok ? sum / ok : Number.NaN,
      max: ok ? sorted[ok - 1] : Number.NaN,
    },
    bytesPerSecond: result.throughput.average,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    warmupOk: warmup?.["2xx"] ?? 0,
    warmupFailures: warmup ? warmup.non2xx + warmup.errors + warmup.timeouts : 0,
  };
}

if (require.main === module) {
  const spec = JSON.parse(process.argv[2]) as LoadSpec;
  measure(spec, () => process.stdout.write("MEASURE_START\n")).then(
    (result) => {
      process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
      process.exit(0);
    },
    (error) => {
      console.error(error);
      process.exit(1);
    }
  );
}
