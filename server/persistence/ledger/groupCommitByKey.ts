import { GroupCommitQueue, type BatchOutcomes, type GroupCommitOptions } from "./groupCommitQueue";

/**
 * One GroupCommitQueue per key (e.g. per account), created on first use and
 * dropped when it falls idle, so batches never mix keys and idle keys cost nothing.
 */
export class GroupCommitByKey<Item, Result> {
  private readonly queues = new Map<string, GroupCommitQueue<Item, Result>>();

  constructor(
    private readonly writeBatch: (key: string, items: Item[]) => Promise<BatchOutcomes<Result>>,
    private readonly options: GroupCommitOptions = {},
  ) {}

  write(key: string, item: Item): Promise<Result> {
    let queue = this.queues.get(key);
    if (!queue) {
      const created: GroupCommitQueue<Item, Result> = new GroupCommitQueue((items) => this.writeBatch(key, items), {
        ...this.options,
        onIdle: () => {
          if (this.queues.get(key) === created) this.queues.delete(key);
        },
      });
      queue = created;
      this.queues.set(key, queue);
    }
    return queue.write(item);
  }

  /** Keys with a queue right now (for tests: idle keys must not linger). */
  get activeKeys(): number {
    return this.queues.size;
  }

  async drained(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.drained()));
  }
}
