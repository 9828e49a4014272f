/**
 * RFC 6962 Merkle tree throughput (src/audit/merkle.ts): streaming 1,000,000 leaf hashes through
 * the O(log n) builder, and verifying inclusion proofs against a 1,000,000-leaf root.
 * The builder takes leaf hashes, so hashing entries is not timed; one "op" of verify is one
 * verifyInclusion call (~20 node hashes at this size).
 */
import { randomBytes } from "node:crypto";
import {
  MerkleTreeBuilder,
  inclusionProofFromSubtrees,
  nodeHash,
  subtreeHashFromLeaves,
  verifyInclusion,
  type SubtreeHash,
} from "../src/audit/merkle.js";

const LEAVES = 1_000_000;
/** Leaf data repeats with this period (a power of two); see periodicSubtrees. */
const PERIOD = 4096;
const VERIFY_WARMUP_MS = 200;
const VERIFY_MEASURE_MS = 1500;
const PROOFS = 256;

/**
 * Leaf i is 32 random bytes of a PERIOD-leaf pool. SHA-256 costs the same whatever the bytes, so
 * the repetition does not flatter the append timing; it only makes proofs cheap to build.
 */
function leafSource(): (i: number) => Uint8Array {
  const pool = randomBytes(PERIOD * 32);
  return (i) => {
    const at = (i % PERIOD) * 32;
    return pool.subarray(at, at + 32);
  };
}

function appendAll(getLeaf: (i: number) => Uint8Array): { builder: MerkleTreeBuilder; seconds: number } {
  const builder = new MerkleTreeBuilder();
  const start = performance.now();
  for (let i = 0; i < LEAVES; i++) builder.append(getLeaf(i));
  return { builder, seconds: (performance.now() - start) / 1000 };
}

function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * MTH(D[lo:hi]) for the periodic leaves. A range wider than PERIOD starts at a multiple of PERIOD
 * (RFC 6962 splits at powers of two), so its hash depends on its width only; it is built from its
 * two halves per §2.1 and memoised. Narrower ranges stream their leaves. Streaming all of a
 * million-leaf tree per proof would take minutes; this takes milliseconds and yields the same
 * hashes, so the proofs verify against the builder's root only if both are right.
 */
function periodicSubtrees(getLeaf: (i: number) => Uint8Array): SubtreeHash {
  const stream = subtreeHashFromLeaves(getLeaf);
  const memo = new Map<string, Uint8Array>();
  const subtree = (lo: number, hi: number): Uint8Array => {
    const key = `${lo % PERIOD}:${hi - lo}`;
    let hash = memo.get(key);
    if (hash === undefined) {
      const mid = lo + splitPoint(hi - lo);
      hash = hi - lo <= PERIOD ? stream(lo, hi) : nodeHash(subtree(lo, mid), subtree(mid, hi));
      memo.set(key, hash);
    }
    return hash;
  };
  return subtree;
}

interface ProofCase {
  index: number;
  leaf: Uint8Array;
  proof: Uint8Array[];
}

function proofCases(getLeaf: (i: number) => Uint8Array): ProofCase[] {
  const subtrees = periodicSubtrees(getLeaf);
  const cases: ProofCase[] = [];
  for (let k = 0; k < PROOFS; k++) {
    const index = Math.floor((k * LEAVES) / PROOFS) + (k % 7);
    cases.push({ index, leaf: getLeaf(index), proof: inclusionProofFromSubtrees(subtrees, LEAVES, index) });
  }
  return cases;
}

/** Verifies the cases round-robin for at least `ms`; a failed verification aborts the bench. */
function verifyLoop(cases: readonly ProofCase[], root: Uint8Array, ms: number): { ops: number; elapsed: number } {
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    for (const c of cases) {
      if (!verifyInclusion(c.leaf, c.index, LEAVES, c.proof, root))
        throw new Error(`proof for leaf ${c.index} did not verify`);
    }
    ops += cases.length;
    elapsed = performance.now() - start;
  }
  return { ops, elapsed };
}

export async function run(): Promise<Record<string, unknown>> {
  const getLeaf = leafSource();
  const heapBefore = process.memoryUsage().heapUsed;
  const { builder, seconds } = appendAll(getLeaf);
  const heapDeltaMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
  const root = builder.root();

  const cases = proofCases(getLeaf);
  verifyLoop(cases, root, VERIFY_WARMUP_MS);
  const { ops, elapsed } = verifyLoop(cases, root, VERIFY_MEASURE_MS);
  const proofLength = cases.reduce((sum, c) => sum + c.proof.length, 0) / cases.length;

  const appendPerSec = Math.round(LEAVES / seconds);
  const verifyPerSec = Math.round((ops * 1000) / elapsed);
  const summary = [
    {
      op: `append ${LEAVES.toLocaleString("en")} leaf hashes`,
      "ops/s": appendPerSec,
      seconds: Math.round(seconds * 100) / 100,
      frontier: builder.frontier().length,
    },
    {
      op: `verify inclusion (size ${LEAVES.toLocaleString("en")}, ~${proofLength.toFixed(1)} hashes)`,
      "ops/s": verifyPerSec,
      seconds: Math.round(elapsed) / 1000,
      frontier: "",
    },
  ];
  return {
    unit: "append: leaf hashes/s into MerkleTreeBuilder; verify: verifyInclusion calls/s",
    leaves: LEAVES,
    appendSeconds: seconds,
    appendLeavesPerSec: appendPerSec,
    frontierHashes: builder.frontier().length,
    heapDeltaMbDuringAppend: Math.round(heapDeltaMb * 10) / 10,
    verifyOps: ops,
    verifyPerSec,
    meanProofLength: proofLength,
    summary,
  };
}
