/**
 * The things a process started, in order, so they can be stopped in reverse:
 * what started last depends on what started first (the HTTP server on the
 * database, the database on its embedded server), so it must stop first.
 */
export class Lifecycle {
  private readonly stack: { name: string; stop: () => Promise<void> | void }[] = [];
  private stopping: Promise<void> | null = null;

  /** Registers `resource` to be stopped with `stop`; returns it, so starting and registering read as one line. */
  add<T>(name: string, resource: T, stop: (resource: T) => Promise<void> | void): T {
    if (this.stopping) throw new Error(`cannot add ${name}: already stopping`);
    this.stack.push({ name, stop: () => stop(resource) });
    return resource;
  }

  /**
   * Stops everything in reverse order of start. A failure does not stop the
   * rest from being stopped (a leaked database is worse than a late error);
   * the failures are thrown together at the end. Calling it again returns the
   * same promise.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const failures: string[] = [];
      let first: unknown;
      for (const { name, stop } of this.stack.splice(0).reverse()) {
        try {
          await stop();
        } catch (error) {
          first ??= error;
          failures.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      if (failures.length > 0) throw new Error(`could not stop cleanly (${failures.join("; ")})`, { cause: first });
    })();
    return this.stopping;
  }
}

/**
 * Runs `start` with a fresh lifecycle; if it throws, stops what it had already
 * started (so a failed start leaks no server and no database), then rethrows.
 */
export async function startAll<T>(
  start: (lifecycle: Lifecycle) => Promise<T>,
): Promise<{ value: T; lifecycle: Lifecycle }> {
  const lifecycle = new Lifecycle();
  try {
    return { value: await start(lifecycle), lifecycle };
  } catch (error) {
    await lifecycle.stop().catch(() => undefined);
    throw error;
  }
}
