import { expect } from "chai";
import { GroupCommitByKey } from "../../../server/persistence/ledger/groupCommitByKey";
import { GroupCommitQueue } from "../../../server/persistence/ledger/groupCommitQueue";

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => (resolve = done));
  return { promise, resolve };
}

describe("GroupCommitQueue", () => {
  it("writes a lone item at once, and the items that arrive meanwhile as one next batch", async () => {
    const batches: number[][] = [];
    const gate = deferred<void>();
    const queue = new GroupCommitQueue<number, number>(
      async (items) => {
        batches.push(items);
        if (batches.length === 1) await gate.promise;
        return items.map((item) => item * 10);
      },
      { maxWriters: 1 },
    );
    const first = queue.write(1);
    await new Promise((resolve) => setImmediate(resolve));
    const later = [2, 3, 4].map((item) => queue.write(item));
    gate.resolve();
    expect(await Promise.all([first, ...later])).to.deep.equal([10, 20, 30, 40]);
    expect(batches).to.deep.equal([[1], [2, 3, 4]]);
  });

  it("fails only the items whose outcome is an error, and the whole batch when the write throws", async () => {
    let throwNext = false;
    const queue = new GroupCommitQueue<number, string>(async (items) => {
      if (throwNext) throw new Error("connection lost");
      return items.map((item) => (item % 2 === 0 ? new Error(`even ${item}`) : `odd ${item}`));
    });
    const outcomes = await Promise.allSettled([1, 2, 3].map((item) => queue.write(item)));
    expect(
      outcomes.map((outcome) => (outcome.status === "fulfilled" ? outcome.value : outcome.reason.message)),
    ).to.deep.equal(["odd 1", "even 2", "odd 3"]);
    throwNext = true;
    const failed = await Promise.allSettled([5, 7].map((item) => queue.write(item)));
    expect(
      failed.every((outcome) => outcome.status === "rejected" && outcome.reason.message === "connection lost"),
    ).to.equal(true);
  });

  it("keeps at most maxWriters batches in flight and splits at maxBatchSize", async () => {
    let inFlight = 0;
    let peak = 0;
    const sizes: number[] = [];
    const queue = new GroupCommitQueue<number, void>(
      async (items) => {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        sizes.push(items.length);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight -= 1;
        return items.map(() => undefined);
      },
      { maxWriters: 2, maxBatchSize: 10 },
    );
    await Promise.all(Array.from({ length: 55 }, (_, item) => queue.write(item)));
    expect(peak).to.equal(2);
    expect(Math.max(...sizes)).to.equal(10);
    expect(sizes.reduce((sum, size) => sum + size, 0)).to.equal(55);
  });

  it("never strands an item queued just as the last writer finishes", async () => {
    const queue = new GroupCommitQueue<number, number>(async (items) => items, { maxWriters: 1 });
    for (let round = 0; round < 200; round += 1) {
      const first = queue.write(round);
      // Queued from the first item's continuation: the writer is finishing at that moment.
      const second = first.then(() => queue.write(round + 1000));
      expect(await second).to.equal(round + 1000);
    }
    await queue.drained();
    expect(queue.idle).to.equal(true);
  });

  it("tells when everything queued is written", async () => {
    const written: number[] = [];
    const queue = new GroupCommitQueue<number, void>(async (items) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      written.push(...items);
      return items.map(() => undefined);
    });
    for (let item = 0; item < 5; item += 1) void queue.write(item);
    await queue.drained();
    expect(written).to.have.length(5);
  });
});

describe("GroupCommitByKey", () => {
  it("batches per key, never mixing keys, and forgets idle keys", async () => {
    const batches: string[] = [];
    const byKey = new GroupCommitByKey<number, number>(
      async (key, items) => {
        batches.push(`${key}:${items.join(",")}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
        return items;
      },
      { maxWriters: 1 },
    );
    const writes = [
      byKey.write("a", 1),
      byKey.write("b", 2),
      byKey.write("a", 3),
      byKey.write("a", 4),
      byKey.write("b", 5),
    ];
    expect(await Promise.all(writes)).to.deep.equal([1, 2, 3, 4, 5]);
    expect(batches.sort()).to.deep.equal(["a:1,3,4", "b:2,5"]);
    await byKey.drained();
    expect(byKey.activeKeys).to.equal(0);
  });
});
