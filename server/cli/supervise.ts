import { spawn } from "node:child_process";
import { constants } from "node:os";
import type { CliIo } from "./io";

/**
 * Runs the server in a child process that leads a process group of its own,
 * and relays stop signals to it.
 *
 * Why: Ctrl-C in a terminal sends SIGINT to every process of the foreground
 * process group. The embedded Postgres (and, later, the local chain) are
 * children of the gateway, so they would get it at the same moment and shut
 * down at once, while the gateway is still draining requests whose usage it
 * must record. In a group of its own, the server gets only the signal relayed
 * here and stops its parts in order, Postgres last. If this process dies
 * without relaying (SIGKILL), the server sees its IPC channel close and stops
 * too.
 */
const RELAYED = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
const DUPLICATE_WINDOW_MS = 300;

/** Whether `shareai start` should run its server in its own process group: on POSIX systems. */
export function canSupervise(): boolean {
  return process.platform !== "win32";
}

export async function runSupervised(argv: string[], io: CliIo): Promise<number> {
  // The same entry and the same node flags as this process: `bin/shareai.js` under tsx, or the
  // production bundle with the memory flags `npm start` gives it.
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...argv], {
    detached: true,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    env: io.env,
  });
  // One Ctrl-C can arrive twice: from the terminal (to the whole foreground group) and relayed by
  // a wrapper such as npm. The server takes a second signal as "exit now", so the same signal
  // within DUPLICATE_WINDOW_MS of the last one relayed is dropped; a deliberate second Ctrl-C
  // a moment later still goes through.
  const lastRelayed = new Map<NodeJS.Signals, number>();
  const relay = (signal: NodeJS.Signals) => {
    const now = Date.now();
    if (now - (lastRelayed.get(signal) ?? -Infinity) < DUPLICATE_WINDOW_MS) return;
    lastRelayed.set(signal, now);
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const signal of RELAYED) process.on(signal, relay);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
    });
  } finally {
    for (const signal of RELAYED) process.removeListener(signal, relay);
  }
}
