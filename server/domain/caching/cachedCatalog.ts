import type { ModelCatalog, UpstreamDirectory, UpstreamTarget } from "../ports";
import type { Model } from "../types";
import { TtlCache } from "./ttlCache";

const LIST = "*";

/**
 * The model catalog seen through a short cache: every chat request reads its
 * model, so without this each one would cost a database round trip. A model
 * object is reused until the TTL expires, which also lets per-model derived
 * data (the `/v1/models` view) be cached by identity.
 */
export class CachedModelCatalog implements ModelCatalog {
  private readonly lists: TtlCache<string, Model[]>;
  private readonly models: TtlCache<string, Model | null>;

  constructor(private readonly inner: ModelCatalog, ttlMs: number, now?: () => number) {
    this.lists = new TtlCache(ttlMs, 1, now);
    // Bounded: unknown ids (cached as null) come from clients and could be anything.
    this.models = new TtlCache(ttlMs, 10_000, now);
  }

  list(): Promise<Model[]> {
    return this.lists.get(LIST, () => this.inner.list());
  }

  get(id: string): Promise<Model | null> {
    return this.models.get(id, (key) => this.inner.get(key));
  }
}

/** The upstream directory through the same kind of cache (read on every chat request). */
export class CachedUpstreamDirectory implements UpstreamDirectory {
  private readonly any: TtlCache<string, boolean>;
  private readonly byModel: TtlCache<string, UpstreamTarget[]>;

  constructor(private readonly inner: UpstreamDirectory, ttlMs: number, now?: () => number) {
    this.any = new TtlCache(ttlMs, 1, now);
    this.byModel = new TtlCache(ttlMs, 10_000, now);
  }

  hasAnyUpstream(): Promise<boolean> {
    return this.any.get(LIST, () => this.inner.hasAnyUpstream());
  }

  upstreamsFor(modelId: string): Promise<UpstreamTarget[]> {
    return this.byModel.get(modelId, (key) => this.inner.upstreamsFor(key));
  }
}
