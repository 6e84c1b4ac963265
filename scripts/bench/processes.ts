import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";

/**
 * Child processes of the benchmark, each pinned to one CPU with
 * `taskset -c <cpu>` (taskset execs the command, so the pid it gets is the
 * command's own and /proc/<pid> measures it).
 */

/** `node` with tsx's CommonJS hooks, as `npm start` runs TypeScript. */
export const NODE_TSX = [process.execPath, "--require", "tsx/cjs"];

export interface PinnedProcessOptions {
  name: string;
  /** CPU list for taskset (e.g. "1"); null: not pinned. */
  cpu: string | null;
  command: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Deliver stdout lines (default: stdout is discarded, like a log shipped elsewhere). */
  onStdoutLine?: (line: string) => void;
}

export class PinnedProcess {
  readonly child: ChildProcess;
  /** The last lines it wrote to stderr, for error messages. */
  private readonly stderrTail: string[] = [];
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  readonly exited: Promise<void>;

  constructor(readonly options: PinnedProcessOptions) {
    const [file, ...args] = options.cpu === null ? options.command : ["taskset", "-c", options.cpu, ...options.command];
    this.child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", options.onStdoutLine ? "pipe" : "ignore", "pipe"],
    });
    if (options.onStdoutLine) createInterface({ input: this.child.stdout! }).on("line", options.onStdoutLine);
    createInterface({ input: this.child.stderr! }).on("line", (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > 40) this.stderrTail.shift();
      if (process.env.BENCH_VERBOSE) process.stderr.write(`[${options.name}] ${line}\n`);
    });
    this.exited = new Promise((resolve) => {
      this.child.on("exit", (code, signal) => {
        this.exitInfo = { code, signal };
        resolve();
      });
      this.child.on("error", (error) => {
        this.stderrTail.push(String(error));
        this.exitInfo = { code: null, signal: null };
        resolve();
      });
    });
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.options.name} did not start: ${this.describeExit()}`);
    return this.child.pid;
  }

  get hasExited(): boolean {
    return this.exitInfo !== null;
  }

  /** Its exit code once it has exited (null when a signal ended it). */
  get exitCode(): number | null | undefined {
    return this.exitInfo?.code;
  }

  stderr(): string {
    return this.stderrTail.join("\n");
  }

  describeExit(): string {
    const how = this.exitInfo
      ? `exited (code ${this.exitInfo.code}, signal ${this.exitInfo.signal})`
      : "is still running";
    return `${this.options.name} ${how}; its last stderr lines:\n${this.stderr() || "(none)"}`;
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.hasExited || this.child.pid === undefined) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Polls `url` until it answers `status` (any status when undefined), or fails after `timeoutMs`. */
export async function waitForHttp(
  url: string,
  process: PinnedProcess,
  { status, timeoutMs = 60_000 }: { status?: number; timeoutMs?: number } = {}
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    if (process.hasExited) throw new Error(`waiting for ${url}: ${process.describeExit()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (status === undefined || response.status === status) return;
      last = `status ${response.status}`;
    } catch (error) {
      last = String((error as Error).cause ?? error);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms (${last}); ${process.describeExit()}`);
}

/** Runs a pinned process to its end, delivering its stdout lines; rejects if it fails. */
export async function runToEnd(options: PinnedProcessOptions): Promise<void> {
  const child = new PinnedProcess(options);
  await child.exited;
  if (child.exitCode !== 0) throw new Error(child.describeExit());
}
