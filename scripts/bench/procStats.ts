import { execFileSync } from "node:child_process";
import fs from "node:fs";

/**
 * What the benchmark reads from /proc (Linux only): a process's CPU time
 * (utime + stime of all its threads) and its resident memory.
 */

let ticksPerSecond: number | null = null;

function clockTicks(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** CPU seconds the process has used so far in user and in kernel mode; its threads included. */
export function cpuTimes(pid: number): { user: number; system: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) is in parentheses and may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return { user: Number(fields[11]) / clockTicks(), system: Number(fields[12]) / clockTicks() };
}

/** CPU seconds (user + system) the process has used so far; its threads included. */
export function cpuSeconds(pid: number): number {
  const { user, system } = cpuTimes(pid);
  return user + system;
}

export interface Memory {
  /** Resident set size now, bytes. */
  rss: number;
  /** The highest RSS since the process started ("high water mark"), bytes. */
  hwm: number;
}

export function memory(pid: number): Memory {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0) * 1024;
  return { rss: kib("VmRSS"), hwm: kib("VmHWM") };
}

/** Polls a process's RSS while it is under load and keeps the highest value seen. */
export class RssSampler {
  private peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number, intervalMs = 50) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    try {
      this.peak = Math.max(this.peak, memory(this.pid).rss);
    } catch {
      // the process has exited: the failure shows elsewhere
    }
  }

  /** Stops polling; the highest RSS seen, in bytes. */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }
}

/** A process's counters at the start of a measured window, to take differences from. */
export class CpuWindow {
  private readonly startCpu: { user: number; system: number };
  private readonly sampler: RssSampler;

  constructor(readonly pid: number) {
    this.startCpu = cpuTimes(pid);
    this.sampler = new RssSampler(pid);
  }

  /** CPU used since the start (and the kernel-mode part of it), the peak RSS polled and VmHWM. */
  end(): { cpuSeconds: number; systemSeconds: number; peakRss: number; hwm: number } {
    const now = cpuTimes(this.pid);
    const system = now.system - this.startCpu.system;
    const peakRss = this.sampler.stop();
    return {
      cpuSeconds: now.user - this.startCpu.user + system,
      systemSeconds: system,
      peakRss,
      hwm: memory(this.pid).hwm,
    };
  }
}

export interface ProcessCpu {
  /** CPU seconds (user + system) so far. */
  cpu: number;
  /** A kernel thread (ksoftirqd, kworker, …): work the kernel does, for this benchmark's traffic too. */
  kernelThread: boolean;
}

/** Every process on the machine with the CPU it has used so far (one read of /proc/<pid>/stat each). */
export function processCpuTable(): Map<number, ProcessCpu> {
  const table = new Map<number, ProcessCpu>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // fields[1] is field 4, the parent pid: kernel threads are children of kthreadd (pid 2).
      const pid = Number(entry);
      table.set(pid, {
        cpu: (Number(fields[11]) + Number(fields[12])) / clockTicks(),
        kernelThread: pid === 2 || fields[1] === "2",
      });
    } catch {
      // the process ended while we looked
    }
  }
  return table;
}
