import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { sha256 } from "@noble/hashes/sha2.js";
import { describe, expect, it } from "vitest";
import {
  HASH_SIZE,
  MerkleTreeBuilder,
  consistencyProof,
  consistencyProofFromHashes,
  consistencyProofFromSubtrees,
  emptyRoot,
  inclusionProof,
  inclusionProofFromHashes,
  inclusionProofFromSubtrees,
  leafHash,
  nodeHash,
  rootHash,
  subtreeHashFromArray,
  type SubtreeHash,
  verifyConsistency,
  verifyInclusion,
} from "../../../src/audit/merkle.js";
import { seededRandom } from "../../seeded-random.js";

interface Fixture {
  hasher: {
    emptyRoot: string;
    emptyLeaf: string;
    leaf: { input: string; hash: string };
    node: { left: string; right: string; hash: string };
  };
  leafInputs: string[];
  nodeHashes: string[][];
  roots: string[];
  inclusionProofs: { index: number; size: number; proof: string[] }[];
  consistencyProofs: { oldSize: number; newSize: number; proof: string[] }[];
}

const fixture = JSON.parse(
  readFileSync(resolve(process.cwd(), "test/fixtures/merkle/rfc6962.json"), "utf8"),
) as Fixture;

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const hexes = (bs: readonly Uint8Array[]): string[] => bs.map(toHex);

const rfcLeaves = fixture.leafInputs.map((s) => leafHash(hex(s)));
const rfcRoots = fixture.roots.map(hex);
/** Not a root of anything here: the "sha256SomeHash" of transparency-dev's verify_test.go. */
const SOME_HASH = hex("abacaba000000000000000000000000000000000000000000060061e00123456");

function at<T>(items: readonly T[], i: number): T {
  const item = items[i];
  if (item === undefined) throw new Error(`no item ${i}`);
  return item;
}

function flipBit(hash: Uint8Array, bit: number): Uint8Array {
  const copy = hash.slice();
  copy[0] = (copy[0] ?? 0) ^ (1 << bit);
  return copy;
}

// ---------------------------------------------------------------------------------------------
// The RFC 6962 §2.1 definitions written out recursively, as a second opinion on the loops.

function refSplit(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function refMth(d: readonly Uint8Array[]): Uint8Array {
  if (d.length === 0) return sha256(new Uint8Array(0));
  if (d.length === 1) return at(d, 0);
  const k = refSplit(d.length);
  return nodeHash(refMth(d.slice(0, k)), refMth(d.slice(k)));
}

function refPath(m: number, d: readonly Uint8Array[]): Uint8Array[] {
  if (d.length <= 1) return [];
  const k = refSplit(d.length);
  if (m < k) return [...refPath(m, d.slice(0, k)), refMth(d.slice(k))];
  return [...refPath(m - k, d.slice(k)), refMth(d.slice(0, k))];
}

function refSubproof(m: number, d: readonly Uint8Array[], b: boolean): Uint8Array[] {
  if (m === d.length) return b ? [] : [refMth(d)];
  const k = refSplit(d.length);
  if (m <= k) return [...refSubproof(m, d.slice(0, k), b), refMth(d.slice(k))];
  return [...refSubproof(m - k, d.slice(k), false), refMth(d.slice(0, k))];
}

// ---------------------------------------------------------------------------------------------
// Seeded randomness, so a failure names a reproducible tree.

const SEED = 0x6962;

const random = seededRandom(SEED);
const randomInt = (maxExclusive: number): number => Math.floor(random() * maxExclusive);
const MAX_SIZE = 300;
const randomLeaves = Array.from({ length: MAX_SIZE }, (_, i) =>
  leafHash(new TextEncoder().encode(`entry ${SEED}/${i}/${random()}`)),
);

/** Roots of every prefix, from the builder (checked against rootHash below). */
const prefixRoots: Uint8Array[] = (() => {
  const builder = new MerkleTreeBuilder();
  const roots = [builder.root()];
  for (const leaf of randomLeaves) {
    builder.append(leaf);
    roots.push(builder.root());
  }
  return roots;
})();

/**
 * Every random tree is a prefix of randomLeaves, so MTH(D[lo:hi]) is the same in all of them:
 * one memo serves every size and keeps the property tests fast. Checked against the plain
 * array functions in "builds the same proofs ..." below.
 */
const memoSubtrees: SubtreeHash = (() => {
  const direct = subtreeHashFromArray(randomLeaves);
  const memo = new Map<string, Uint8Array>();
  return (lo, hi) => {
    const key = `${lo}:${hi}`;
    const hit = memo.get(key) ?? direct(lo, hi);
    memo.set(key, hit);
    return hit;
  };
})();

/** A few indices of a tree of `size` leaves: both edges, the middle and two random ones. */
function sampleIndices(size: number): number[] {
  return [...new Set([0, size - 1, Math.floor(size / 2), randomInt(size), randomInt(size)])];
}

/** Old sizes worth checking against `newSize`: edges, powers of two and two random ones. */
function sampleOldSizes(newSize: number): number[] {
  const sizes = [0, 1, newSize - 1, newSize, randomInt(newSize + 1), randomInt(newSize + 1)];
  for (let p = 2; p < newSize; p *= 2) sizes.push(p);
  return [...new Set(sizes)].filter((m) => m >= 0 && m <= newSize);
}

// ---------------------------------------------------------------------------------------------

describe("RFC 6962 hashing (transparency-dev/merkle rfc6962_test.go)", () => {
  it("has the empty-tree root and distinguishes it from the empty leaf", () => {
    expect(toHex(emptyRoot())).toBe(fixture.hasher.emptyRoot);
    expect(toHex(rootHash([]))).toBe(fixture.hasher.emptyRoot);
    expect(toHex(new MerkleTreeBuilder().root())).toBe(fixture.hasher.emptyRoot);
    expect(toHex(leafHash(new Uint8Array(0)))).toBe(fixture.hasher.emptyLeaf);
  });

  it("hashes a leaf and a node with their domain prefixes", () => {
    expect(toHex(leafHash(hex(fixture.hasher.leaf.input)))).toBe(fixture.hasher.leaf.hash);
    expect(toHex(nodeHash(hex(fixture.hasher.node.left), hex(fixture.hasher.node.right)))).toBe(
      fixture.hasher.node.hash,
    );
  });

  it("depends on the order of children and is not a leaf hash of their concatenation", () => {
    const [a, b] = [at(rfcLeaves, 1), at(rfcLeaves, 2)];
    expect(toHex(nodeHash(a, b))).not.toBe(toHex(nodeHash(b, a)));
    expect(toHex(nodeHash(a, b))).not.toBe(toHex(leafHash(new Uint8Array([...a, ...b]))));
  });
});

describe("RFC 6962 reference tree (transparency-dev/merkle testonly/constants.go)", () => {
  it("hashes the 8 leaf inputs to the published leaf hashes", () => {
    expect(hexes(rfcLeaves)).toEqual(fixture.nodeHashes[0]);
  });

  it.each(fixture.roots.map((root, size) => ({ size, root })))(
    "rootHash and the builder give the size $size root",
    ({ size, root }) => {
      expect(toHex(rootHash(rfcLeaves.slice(0, size)))).toBe(root);
      const builder = new MerkleTreeBuilder();
      rfcLeaves.slice(0, size).forEach((leaf) => builder.append(leaf));
      expect(builder.size).toBe(size);
      expect(toHex(builder.root())).toBe(root);
    },
  );

  it("gives every complete subtree its published node hash", () => {
    fixture.nodeHashes.forEach((level, height) => {
      level.forEach((want, i) => {
        const width = 2 ** height;
        expect(toHex(rootHash(rfcLeaves.slice(i * width, (i + 1) * width)))).toBe(want);
      });
    });
  });

  it("keeps the compact range (CompactTrees) as the builder's frontier", () => {
    const builder = new MerkleTreeBuilder();
    for (let size = 1; size <= 8; size++) {
      builder.append(at(rfcLeaves, size - 1));
      const want: string[] = [];
      let start = 0;
      for (let height = 3; height >= 0; height--) {
        if (Math.floor(size / 2 ** height) % 2 === 1) {
          want.push(at(at(fixture.nodeHashes, height), start / 2 ** height));
          start += 2 ** height;
        }
      }
      expect(hexes(builder.frontier())).toEqual(want);
    }
  });
});

describe("RFC 6962 inclusion proofs (transparency-dev/merkle proof/verify_test.go)", () => {
  it.each(fixture.inclusionProofs)("PATH($index, D[$size]) matches and verifies", ({ index, size, proof }) => {
    const leaves = rfcLeaves.slice(0, size);
    expect(hexes(inclusionProof(leaves, index))).toEqual(proof);
    expect(hexes(inclusionProofFromHashes((i) => at(leaves, i), size, index))).toEqual(proof);
    expect(verifyInclusion(at(rfcLeaves, index), index, size, proof.map(hex), at(rfcRoots, size))).toBe(true);
  });

  // The corruptions of verify_test.go's corruptInclusionProof, applied to each published proof.
  it.each(fixture.inclusionProofs)(
    "rejects corrupted variants of PATH($index, D[$size])",
    ({ index, size, proof: proofHex }) => {
      const proof = proofHex.map(hex);
      const leaf = at(rfcLeaves, index);
      const root = at(rfcRoots, size);
      const probes: [string, Uint8Array, number, number, Uint8Array[], Uint8Array][] = [
        ["index - 1", leaf, index - 1, size, proof, root],
        ["index + 1", leaf, index + 1, size, proof, root],
        ["index ^ 2", leaf, index ^ 2, size, proof, root],
        ["size * 2", leaf, index, size * 2, proof, root],
        ["size / 2", leaf, index, Math.floor(size / 2), proof, root],
        ["wrong leaf", new TextEncoder().encode("WrongLeaf"), index, size, proof, root],
        ["empty root", leaf, index, size, proof, emptyRoot()],
        ["random root", leaf, index, size, proof, SOME_HASH],
        ["trailing garbage", leaf, index, size, [...proof, new Uint8Array(0)], root],
        ["trailing root", leaf, index, size, [...proof, root], root],
        ["preceding garbage", leaf, index, size, [new Uint8Array(0), ...proof], root],
        ["preceding root", leaf, index, size, [root, ...proof], root],
        ...proof.map((_, i): [string, Uint8Array, number, number, Uint8Array[], Uint8Array] => [
          `modified proof[${i}] bit 3`,
          leaf,
          index,
          size,
          proof.map((p, j) => (j === i ? flipBit(p, 3) : p)),
          root,
        ]),
      ];
      if (proof.length > 0) probes.push(["removed component", leaf, index, size, proof.slice(0, -1), root]);
      if (proof.length > 1)
        probes.push(["inserted component", leaf, index, size, [at(proof, 0), SOME_HASH, ...proof.slice(1)], root]);
      const accepted = probes.filter(([, l, i, s, p, r]) => verifyInclusion(l, i, s, p, r)).map(([desc]) => desc);
      expect(accepted).toEqual([]);
    },
  );
});

describe("RFC 6962 consistency proofs (transparency-dev/merkle proof/verify_test.go)", () => {
  it.each(fixture.consistencyProofs)(
    "PROOF($oldSize, D[$newSize]) matches and verifies",
    ({ oldSize, newSize, proof }) => {
      const leaves = rfcLeaves.slice(0, newSize);
      expect(hexes(consistencyProof(leaves, oldSize))).toEqual(proof);
      expect(hexes(consistencyProofFromHashes((i) => at(leaves, i), oldSize, newSize))).toEqual(proof);
      expect(verifyConsistency(oldSize, newSize, at(rfcRoots, oldSize), at(rfcRoots, newSize), proof.map(hex))).toBe(
        true,
      );
    },
  );

  // The corruptions of verify_test.go's corruptConsistencyProof, for the non-trivial proofs.
  it.each(fixture.consistencyProofs.filter((v) => v.proof.length > 0))(
    "rejects corrupted variants of PROOF($oldSize, D[$newSize])",
    ({ oldSize: m, newSize: n, proof: proofHex }) => {
      const proof = proofHex.map(hex);
      const [r1, r2] = [at(rfcRoots, m), at(rfcRoots, n)];
      const wrongRoot = new TextEncoder().encode("WrongRoot");
      const probes: [string, number, number, Uint8Array, Uint8Array, Uint8Array[]][] = [
        ["oldSize - 1", m - 1, n, r1, r2, proof],
        ["oldSize + 1", m + 1, n, r1, r2, proof],
        ["oldSize ^ 2", m ^ 2, n, r1, r2, proof],
        ["newSize * 2", m, n * 2, r1, r2, proof],
        ["newSize / 2", m, Math.floor(n / 2), r1, r2, proof],
        ["wrong old root", m, n, wrongRoot, r2, proof],
        ["wrong new root", m, n, r1, wrongRoot, proof],
        ["swapped roots", m, n, r2, r1, proof],
        ["empty proof", m, n, r1, r2, []],
        ["trailing garbage", m, n, r1, r2, [...proof, new Uint8Array(0)]],
        ["trailing old root", m, n, r1, r2, [...proof, r1]],
        ["trailing new root", m, n, r1, r2, [...proof, r2]],
        ["preceding garbage", m, n, r1, r2, [new Uint8Array(0), ...proof]],
        ["preceding old root", m, n, r1, r2, [r1, ...proof]],
        ["preceding new root", m, n, r1, r2, [r2, ...proof]],
        ["preceding proof[0]", m, n, r1, r2, [at(proof, 0), ...proof]],
        ["truncated proof", m, n, r1, r2, proof.slice(0, -1)],
        ...proof.map((_, i): [string, number, number, Uint8Array, Uint8Array, Uint8Array[]] => [
          `modified proof[${i}] bit 4`,
          m,
          n,
          r1,
          r2,
          proof.map((p, j) => (j === i ? flipBit(p, 4) : p)),
        ]),
      ];
      const accepted = probes.filter(([, s1, s2, a, b, p]) => verifyConsistency(s1, s2, a, b, p)).map(([desc]) => desc);
      expect(accepted).toEqual([]);
    },
  );

  it("handles the trivial sizes strictly", () => {
    const [r1, r8] = [at(rfcRoots, 1), at(rfcRoots, 8)];
    expect(verifyConsistency(0, 0, emptyRoot(), emptyRoot(), [])).toBe(true);
    expect(verifyConsistency(0, 8, emptyRoot(), r8, [])).toBe(true);
    expect(verifyConsistency(0, 8, r1, r8, [])).toBe(false); // an empty tree has exactly one root
    expect(verifyConsistency(0, 8, emptyRoot(), r8, [emptyRoot()])).toBe(false);
    expect(verifyConsistency(8, 8, r8, r8, [])).toBe(true);
    expect(verifyConsistency(8, 8, r8, r8, [emptyRoot()])).toBe(false);
    expect(verifyConsistency(8, 8, r1, r8, [])).toBe(false);
    expect(verifyConsistency(2, 1, at(rfcRoots, 2), r1, [])).toBe(false);
    expect(verifyConsistency(1, 2, r1, at(rfcRoots, 2), [])).toBe(false);
  });
});

describe("input checks", () => {
  it("rejects out-of-range indices and sizes when building proofs", () => {
    expect(() => inclusionProof([], 0)).toThrow(RangeError);
    expect(() => inclusionProof(rfcLeaves, 8)).toThrow(RangeError);
    expect(() => inclusionProof(rfcLeaves, -1)).toThrow(RangeError);
    expect(() => inclusionProof(rfcLeaves, 1.5)).toThrow(RangeError);
    expect(() => consistencyProof(rfcLeaves, 9)).toThrow(RangeError);
    expect(() => consistencyProof(rfcLeaves, -1)).toThrow(RangeError);
    expect(consistencyProof(rfcLeaves, 0)).toEqual([]);
  });

  it("accepts only 32-byte leaf hashes in the tree, and never throws while verifying", () => {
    expect(() => new MerkleTreeBuilder().append(new Uint8Array(31))).toThrow(RangeError);
    expect(() => rootHash([new Uint8Array(33)])).toThrow(RangeError);
    const root = at(rfcRoots, 1);
    expect(verifyInclusion(new Uint8Array(0), 0, 1, [], root)).toBe(false);
    expect(verifyInclusion(at(rfcLeaves, 0), 0, 1, [], new Uint8Array(0))).toBe(false);
    expect(verifyInclusion(at(rfcLeaves, 0), 0, 0, [], root)).toBe(false);
    expect(verifyInclusion(at(rfcLeaves, 0), Number.NaN, 1, [], root)).toBe(false);
    expect(verifyInclusion(at(rfcLeaves, 0), 0, Number.POSITIVE_INFINITY, [], root)).toBe(false);
    expect(verifyConsistency(1, 2, root, at(rfcRoots, 2), [new Uint8Array(HASH_SIZE - 1)])).toBe(false);
  });

  it("resumes from a saved frontier and refuses a frontier of the wrong shape", () => {
    const builder = new MerkleTreeBuilder();
    rfcLeaves.slice(0, 5).forEach((leaf) => builder.append(leaf));
    const resumed = MerkleTreeBuilder.fromFrontier(builder.size, builder.frontier());
    rfcLeaves.slice(5).forEach((leaf) => resumed.append(leaf));
    expect(toHex(resumed.root())).toBe(fixture.roots[8]);
    expect(() => MerkleTreeBuilder.fromFrontier(4, builder.frontier())).toThrow(RangeError);
    expect(() => MerkleTreeBuilder.fromFrontier(5, [...builder.frontier(), SOME_HASH])).toThrow(RangeError);
  });

  it("hands out copies, so callers cannot corrupt the builder", () => {
    const builder = new MerkleTreeBuilder();
    builder.append(at(rfcLeaves, 0));
    builder.root().fill(0);
    builder.frontier().forEach((h) => h.fill(0));
    expect(toHex(builder.root())).toBe(fixture.roots[1]);
  });
});

describe(`random trees of 1..${MAX_SIZE} leaves (seed ${SEED})`, () => {
  it("builder, rootHash and the recursive MTH agree for every prefix", () => {
    for (let size = 0; size <= MAX_SIZE; size++) {
      const want = toHex(rootHash(randomLeaves.slice(0, size)));
      expect(toHex(at(prefixRoots, size)), `size ${size}`).toBe(want);
      if (size <= 64) expect(toHex(refMth(randomLeaves.slice(0, size))), `size ${size}`).toBe(want);
    }
  });

  it("matches the recursive PATH and PROOF for every index and old size up to 40 leaves", () => {
    for (let n = 1; n <= 40; n++) {
      const leaves = randomLeaves.slice(0, n);
      for (let m = 0; m < n; m++)
        expect(hexes(inclusionProof(leaves, m)), `PATH(${m}, D[${n}])`).toEqual(hexes(refPath(m, leaves)));
      for (let m = 1; m < n; m++)
        expect(hexes(consistencyProof(leaves, m)), `PROOF(${m}, D[${n}])`).toEqual(hexes(refSubproof(m, leaves, true)));
    }
  });

  it("builds the same proofs from leaves, subtree hashes or one leaf at a time", () => {
    for (const n of [1, 2, 3, 7, 8, 9, 100, 255, 256, 257, MAX_SIZE]) {
      const leaves = randomLeaves.slice(0, n);
      const subtrees = subtreeHashFromArray(leaves);
      for (const m of sampleIndices(n)) {
        const want = hexes(inclusionProof(leaves, m));
        expect(hexes(inclusionProofFromSubtrees(subtrees, n, m))).toEqual(want);
        expect(hexes(inclusionProofFromSubtrees(memoSubtrees, n, m))).toEqual(want);
        expect(hexes(inclusionProofFromHashes((i) => at(leaves, i), n, m))).toEqual(want);
      }
      for (const m of sampleOldSizes(n)) {
        const want = hexes(consistencyProof(leaves, m));
        expect(hexes(consistencyProofFromSubtrees(subtrees, m, n))).toEqual(want);
        expect(hexes(consistencyProofFromSubtrees(memoSubtrees, m, n))).toEqual(want);
        expect(hexes(consistencyProofFromHashes((i) => at(leaves, i), m, n))).toEqual(want);
      }
    }
  });

  it("every sampled inclusion proof verifies, and fails for another leaf, index or root", () => {
    let checked = 0;
    for (let n = 1; n <= MAX_SIZE; n++) {
      const root = at(prefixRoots, n);
      const indices = n <= 32 ? Array.from({ length: n }, (_, i) => i) : sampleIndices(n);
      for (const m of indices) {
        const proof = inclusionProofFromSubtrees(memoSubtrees, n, m);
        const leaf = at(randomLeaves, m);
        const where = `PATH(${m}, D[${n}])`;
        expect(verifyInclusion(leaf, m, n, proof, root), where).toBe(true);
        expect(verifyInclusion(at(randomLeaves, (m + 1) % MAX_SIZE), m, n, proof, root), `${where} other leaf`).toBe(
          false,
        );
        expect(verifyInclusion(flipBit(leaf, 0), m, n, proof, root), `${where} flipped leaf`).toBe(false);
        for (const other of [m - 1, m + 1, m ^ 1, m ^ 2, 0, n - 1, n]) {
          if (other !== m)
            expect(verifyInclusion(leaf, other, n, proof, root), `${where} as index ${other}`).toBe(false);
        }
        expect(
          verifyInclusion(leaf, m, n, proof, at(prefixRoots, n < MAX_SIZE ? n + 1 : n - 1)),
          `${where} neighbour root`,
        ).toBe(false);
        expect(verifyInclusion(leaf, m, n, proof, flipBit(root, 7)), `${where} flipped root`).toBe(false);
        expect(verifyInclusion(leaf, m, n, [...proof, root], root), `${where} extended`).toBe(false);
        if (proof.length > 0) {
          expect(verifyInclusion(leaf, m, n, proof.slice(0, -1), root), `${where} truncated`).toBe(false);
          const i = randomInt(proof.length);
          expect(
            verifyInclusion(
              leaf,
              m,
              n,
              proof.map((p, j) => (j === i ? flipBit(p, 5) : p)),
              root,
            ),
            `${where} flipped proof[${i}]`,
          ).toBe(false);
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it("every sampled consistency proof verifies, and fails when tampered, resized or swapped", () => {
    let checked = 0;
    for (let n = 1; n <= MAX_SIZE; n++) {
      for (const m of sampleOldSizes(n)) {
        const proof = consistencyProofFromSubtrees(memoSubtrees, m, n);
        const [r1, r2] = [at(prefixRoots, m), at(prefixRoots, n)];
        const where = `PROOF(${m}, D[${n}])`;
        expect(verifyConsistency(m, n, r1, r2, proof), where).toBe(true);
        expect(verifyConsistency(m, n, flipBit(r1, 2), r2, proof), `${where} tampered old root`).toBe(false);
        // An empty old tree is consistent with every tree, so only then is the new root unchecked.
        if (m > 0) expect(verifyConsistency(m, n, r1, flipBit(r2, 2), proof), `${where} tampered new root`).toBe(false);
        expect(verifyConsistency(m, n, r1, r2, [...proof, r2]), `${where} extended`).toBe(false);
        expect(verifyConsistency(m, n, r1, r2, [r1, ...proof]), `${where} prefixed`).toBe(false);
        if (m < n) {
          expect(verifyConsistency(n, m, r2, r1, proof), `${where} swapped sizes`).toBe(false);
          expect(verifyConsistency(m, n, r2, r1, proof), `${where} swapped roots`).toBe(false);
          if (m > 0 && n < MAX_SIZE)
            expect(verifyConsistency(m, n + 1, r1, at(prefixRoots, n + 1), proof), `${where} as a proof to n+1`).toBe(
              false,
            );
        }
        if (proof.length > 0) {
          expect(verifyConsistency(m, n, r1, r2, proof.slice(0, -1)), `${where} truncated`).toBe(false);
          expect(verifyConsistency(m, n, r1, r2, proof.slice(1)), `${where} head dropped`).toBe(false);
          const i = randomInt(proof.length);
          expect(
            verifyConsistency(
              m,
              n,
              r1,
              r2,
              proof.map((p, j) => (j === i ? flipBit(p, 6) : p)),
            ),
            `${where} flipped proof[${i}]`,
          ).toBe(false);
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it("an inclusion proof against an old root carries over to the new root via its consistency proof", () => {
    const n = MAX_SIZE;
    const m = 1 + randomInt(n - 1);
    const index = randomInt(m);
    const oldRoot = at(prefixRoots, m);
    const newRoot = at(prefixRoots, n);
    expect(
      verifyInclusion(at(randomLeaves, index), index, m, inclusionProof(randomLeaves.slice(0, m), index), oldRoot),
    ).toBe(true);
    expect(verifyConsistency(m, n, oldRoot, newRoot, consistencyProof(randomLeaves, m))).toBe(true);
    expect(verifyInclusion(at(randomLeaves, index), index, n, inclusionProof(randomLeaves, index), newRoot)).toBe(true);
  });

  it("documents that a path binds the leaf and root, not the tree size: the signed head must carry it", () => {
    // PATH(0, D[8]) walks three left turns; so would a leaf 0 of a 7-leaf tree. Only the size
    // published with the root (the signed tree head) tells them apart.
    const proof = inclusionProof(rfcLeaves, 0);
    expect(verifyInclusion(at(rfcLeaves, 0), 0, 7, proof, at(rfcRoots, 8))).toBe(true);
  });
});

describe("large trees", () => {
  it("keeps one hash per set bit of the size and agrees with rootHash past 2^16 leaves", () => {
    const builder = new MerkleTreeBuilder();
    const leaves: Uint8Array[] = [];
    let leaf: Uint8Array = leafHash(new Uint8Array(0));
    for (let i = 0; i < 2 ** 16 + 3; i++) {
      leaf = sha256(leaf);
      leaves.push(leaf);
      builder.append(leaf);
      if (builder.size === 2 ** 16 - 1) expect(builder.frontier().length).toBe(16);
    }
    expect(builder.frontier().length).toBe(3); // 2^16 + 3 = 0b1_0000_0000_0000_0011
    expect(toHex(builder.root())).toBe(toHex(rootHash(leaves)));
    const index = 2 ** 16 + 1;
    expect(
      verifyInclusion(at(leaves, index), index, leaves.length, inclusionProof(leaves, index), builder.root()),
    ).toBe(true);
  });

  it("handles indices and sizes past 2^32 without 32-bit truncation", () => {
    // A tree of 2^33 + 1 leaves: leaf 2^33 is the lone right child of the root, whose left
    // child is a complete subtree; its path is that subtree's hash only.
    const size = 2 ** 33 + 1;
    const leftSubtree = SOME_HASH;
    const last = at(rfcLeaves, 7);
    const root = nodeHash(leftSubtree, last);
    expect(verifyInclusion(last, size - 1, size, [leftSubtree], root)).toBe(true);
    expect(verifyInclusion(last, size - 2, size, [leftSubtree], root)).toBe(false);
    expect(verifyConsistency(2 ** 33, size, leftSubtree, root, [last])).toBe(true);
    expect(
      hexes(
        consistencyProofFromSubtrees((lo, hi) => (lo === 2 ** 33 && hi === size ? last : leftSubtree), 2 ** 33, size),
      ),
    ).toEqual([toHex(last)]);
  });
});
