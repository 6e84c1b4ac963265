import { expect } from "chai";
import type { BlockRef, ChainReader } from "../../../server/chain/chainReader";
import { checkForFork } from "../../../server/chain/forkPoint";

/** A chain whose block n has hash `${fork}-${n}` from `forkedAt` on, `main-${n}` below it. */
function chain(head: number, forkedAt = Infinity): ChainReader & { reads: number } {
  const hashAt = (n: number) => (n >= forkedAt ? `new-${n}` : `main-${n}`);
  const reader = {
    reads: 0,
    chainId: async () => 1n,
    latestBlock: async () => ({ number: head, hash: hashAt(head) }),
    async blockAt(n: number) {
      reader.reads += 1;
      return n > head ? null : { number: n, hash: hashAt(n) };
    },
    escrowLogs: async () => [],
  };
  return reader;
}

const remembered = (numbers: number[]): BlockRef[] => numbers.map((n) => ({ number: n, hash: `main-${n}` }));

describe("chain/forkPoint", () => {
  const blocks = remembered([100, 97, 90, 80, 64, 50, 41, 40, 30, 10]);

  it("sees no reorganisation with one request when the newest remembered block is still there", async () => {
    const reader = chain(120);
    expect(await checkForFork(reader, blocks)).to.deep.equal({ reorg: false });
    expect(reader.reads).to.equal(1);
    expect(await checkForFork(reader, [])).to.deep.equal({ reorg: false });
  });

  it("finds the newest remembered block still on the chain, by binary search", async () => {
    for (const forkedAt of [98, 91, 65, 42, 41, 11]) {
      const reader = chain(120, forkedAt);
      const found = await checkForFork(reader, blocks);
      const expected = blocks.find((block) => block.number < forkedAt)!;
      expect(found, `forked at ${forkedAt}`).to.deep.equal({ reorg: true, commonBlock: expected });
      expect(reader.reads).to.be.at.most(1 + Math.ceil(Math.log2(blocks.length)) + 1);
    }
  });

  it("treats blocks above a shorter chain's head as gone", async () => {
    expect(await checkForFork(chain(85), blocks)).to.deep.equal({ reorg: true, commonBlock: blocks[3] });
  });

  it("answers null when nothing remembered is on the chain any more (too deep, or a new chain)", async () => {
    expect(await checkForFork(chain(120, 0), blocks)).to.deep.equal({ reorg: true, commonBlock: null });
    expect(await checkForFork(chain(5), blocks)).to.deep.equal({ reorg: true, commonBlock: null });
  });
});
