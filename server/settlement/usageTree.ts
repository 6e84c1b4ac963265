import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { RECEIPT_LEAF_ENCODING, receiptLeaf, type Receipt, type ReceiptLeaf } from "./receipt";

/**
 * The usage tree of one voucher: an OpenZeppelin StandardMerkleTree over the receipts metered
 * for the pair since its previous voucher; its root is the voucher's `usageRoot`.
 *
 * Order: the leaves are sorted by leaf hash before the tree is built (`sortLeaves: true`), and
 * every inner node hashes its two children in sorted order, so the root depends only on the
 * set of receipts, never on the order a database returned them in, and a proof needs no
 * left/right flags.
 *
 * Empty set: never built. A voucher exists only to move money, so it is built only when the
 * pair's cumulative amount grows, which takes at least one new receipt; a tree of nothing has
 * no root and asking for one is a bug in the caller.
 */
export interface UsageTree {
  /** The Merkle root: the voucher's `usageRoot`, lower-case hex. */
  readonly root: string;
  /** How many receipts the tree holds. */
  readonly size: number;
  /** The proof of the receipt of `requestId`; throws if it is not in the tree. */
  proofOf(requestId: string): string[];
}

const SORTED_LEAVES = { sortLeaves: true } as const;

/** Builds the usage tree of `receipts`; throws on an empty set or a request id that repeats. */
export function buildUsageTree(receipts: readonly Receipt[]): UsageTree {
  if (receipts.length === 0) {
    throw new RangeError("a usage tree needs at least one receipt: a voucher with no new usage is never built");
  }
  const indexByRequestId = new Map<string, number>();
  receipts.forEach((receipt, index) => {
    // A request is billed once; the same id twice means a ledger bug, not two receipts.
    if (indexByRequestId.has(receipt.requestId)) {
      throw new RangeError(`request ${receipt.requestId} appears twice in one usage tree`);
    }
    indexByRequestId.set(receipt.requestId, index);
  });
  const tree = StandardMerkleTree.of<ReceiptLeaf>(receipts.map(receiptLeaf), [...RECEIPT_LEAF_ENCODING], SORTED_LEAVES);
  return {
    root: tree.root,
    size: tree.length,
    proofOf(requestId: string): string[] {
      const index = indexByRequestId.get(requestId);
      if (index === undefined) throw new RangeError(`request ${requestId} is not in this usage tree`);
      return tree.getProof(index);
    },
  };
}

/** Whether `proof` shows `receipt` to be a leaf of the tree whose root is `root`. */
export function verifyUsageProof(root: string, receipt: Receipt, proof: readonly string[]): boolean {
  return StandardMerkleTree.verify(root.toLowerCase(), [...RECEIPT_LEAF_ENCODING], receiptLeaf(receipt), [...proof]);
}

/**
 * Whether a proof of `depth` hashes can come from a tree of `size` leaves. OpenZeppelin's tree
 * is a complete binary tree in an array, so every leaf sits at depth floor(log2(size)) or one
 * deeper. It catches a bundle that claims more (or fewer) receipts than its proof allows.
 */
export function isPlausibleProofDepth(size: number, depth: number): boolean {
  if (!Number.isSafeInteger(size) || size < 1) return false;
  // Leaves are at array indices size-1 … 2·size-2, and index i is at depth floor(log2(i + 1)).
  return depth >= floorLog2(size) && depth <= floorLog2(2 * size - 1);
}

/** floor(log2(n)) for a positive safe integer, exactly (Math.log2 rounds near powers of two). */
function floorLog2(n: number): number {
  return n.toString(2).length - 1;
}
