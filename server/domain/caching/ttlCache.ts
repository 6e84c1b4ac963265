/**
 * A bounded in-memory cache whose entries expire after `ttlMs`, with
 * concurrent loads of one key coalesced into a single call. It keeps hot-path
 * lookups (keys, models, upstream lists) off the database; its TTL is how long
 * a change in the database may take to be seen. Failed loads are not cached.
 */
export class TtlCache<K, V> {
  private readonly entries = new Map<K, { value: V; expiresAtMs: number }>();
  private readonly loading = new Map<K, Promise<V>>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now
  ) {}

  async get(key: K, load: (key: K) => Promise<V>): Promise<V> {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAtMs > this.now()) return entry.value;
    const pending = this.loading.get(key);
    if (pending) return pending;

    const promise = load(key).then(
      (value) => {
        this.loading.delete(key);
        if (this.ttlMs > 0) this.store(key, value);
        return value;
      },
      (error: unknown) => {
        this.loading.delete(key);
        throw error;
      }
    );
    this.loading.set(key, promise);
    return promise;
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private store(key: K, value: V): void {
    // Re-inserting moves the key to the end, so the first key is the least recently loaded.
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, expiresAtMs: this.now() + this.ttlMs });
  }
}
