import { readFileSync } from "node:fs";

/** Whether `pid` is a live process (not gone, not a zombie waiting to be reaped). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  return !isZombie(pid);
}

/**
 * An orphaned server that exited stays a zombie until init reaps it, and not
 * every container's init does: on Linux, read its state rather than trust kill(0).
 */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
}

/** Sends SIGINT (Postgres' "fast" shutdown: roll back, checkpoint, exit) and waits for the process to end. */
export async function stopProcess(pid: number, timeoutMs = 30_000): Promise<void> {
  if (!isProcessAlive(pid)) return;
  process.kill(pid, "SIGINT");
  const deadline = Date.now() + timeoutMs;
  while (isProcessAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} did not stop within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
