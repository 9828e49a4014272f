/**
 * RFC 6962 (Certificate Transparency) Merkle tree over leaf hashes, as pure functions: the tree
 * head of the verifiable audit log, inclusion proofs (PATH, §2.1.1) and consistency proofs
 * (PROOF, §2.1.2), with the verifiers of RFC 9162 §2.1.3.2 and §2.1.4.2.
 *
 * Everything takes leaf hashes (leafHash(entry)), never entries, so the audit store keeps one
 * 32-byte value per row. Tree sizes and indices are plain numbers: the bit tests below use
 * arithmetic (% 2, / 2), not the 32-bit bitwise operators, so they stay exact up to 2^53.
 * Nothing recurses: every walk is a loop over at most ~53 levels.
 */
import { createHash } from "node:crypto";

/** SHA-256 output length; every leaf, node and root hash has it. */
export const HASH_SIZE = 32;

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

/**
 * MTH of the leaves [start, end) of the tree: start < end <= size. The ranges asked for are
 * those of RFC 6962's recursion, so a store that caches complete subtrees can answer most of
 * them without reading leaves.
 */
export type SubtreeHash = (start: number, end: number) => Uint8Array;

/** Leaf hash number `index` of the log. */
export type LeafHashAt = (index: number) => Uint8Array;

/** SHA-256(0x00 || data): the domain prefix keeps a leaf from being passed off as a node. */
export function leafHash(data: Uint8Array): Uint8Array {
  return sha256(LEAF_PREFIX, data);
}

/** SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(NODE_PREFIX, left, right);
}

/** MTH({}) = SHA-256 of the empty string (RFC 6962 §2.1); a fresh copy, callers may mutate it. */
export function emptyRoot(): Uint8Array {
  return sha256();
}

/** SHA-256 over the parts in order, through node:crypto (OpenSSL); a plain Uint8Array. */
function sha256(...parts: readonly Uint8Array[]): Uint8Array {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part);
  const digest = hash.digest();
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
}

// ---------------------------------------------------------------------------------------------
// Arithmetic helpers: exact for every safe integer, unlike `&` and `>>` which truncate to 32 bits.

function isOdd(n: number): boolean {
  return n % 2 === 1;
}

function half(n: number): number {
  return Math.floor(n / 2);
}

/** The k of RFC 6962 §2.1: the largest power of two strictly smaller than n (n >= 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  let p = 1;
  while (p < n) p *= 2;
  return p === n;
}

function isSize(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

function assertSize(name: string, n: number): void {
  if (!isSize(n)) throw new RangeError(`${name} must be a non-negative safe integer, got ${n}`);
}

function assertHash(name: string, hash: Uint8Array): void {
  if (hash.length !== HASH_SIZE) throw new RangeError(`${name} must be ${HASH_SIZE} bytes, got ${hash.length}`);
}

/** Byte equality. Roots and proofs are public, so a timing-safe compare buys nothing here. */
function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function allHashSized(hashes: readonly Uint8Array[]): boolean {
  return hashes.every((h) => h.length === HASH_SIZE);
}

// ---------------------------------------------------------------------------------------------
// Tree heads.

/**
 * Streaming MTH: keeps the compact range [0, size) — one complete subtree root per set bit of
 * size, largest first — so appending is amortised O(1) hashes and memory stays O(log size).
 */
export class MerkleTreeBuilder {
  #size = 0;
  readonly #frontier: Uint8Array[] = [];

  /** Resumes a builder from a saved frontier (as returned by frontier()) for `size` leaves. */
  static fromFrontier(size: number, frontier: readonly Uint8Array[]): MerkleTreeBuilder {
    assertSize("size", size);
    let expected = 0;
    for (let n = size; n > 0; n = half(n)) if (isOdd(n)) expected++;
    if (frontier.length !== expected)
      throw new RangeError(`a tree of ${size} leaves has ${expected} frontier hashes, got ${frontier.length}`);
    frontier.forEach((h, i) => assertHash(`frontier[${i}]`, h));
    const builder = new MerkleTreeBuilder();
    builder.#size = size;
    builder.#frontier.push(...frontier.map((h) => h.slice()));
    return builder;
  }

  get size(): number {
    return this.#size;
  }

  /** Adds one leaf hash; merges equal-sized subtrees exactly as binary addition carries. */
  append(leaf: Uint8Array): void {
    assertHash("leaf hash", leaf);
    let node: Uint8Array = leaf.slice();
    for (let n = this.#size; isOdd(n); n = half(n)) {
      // Each trailing 1 bit of size is a complete left sibling waiting for this node.
      node = nodeHash(this.#frontier.pop() as Uint8Array, node);
    }
    this.#frontier.push(node);
    this.#size++;
  }

  /** MTH of the leaves so far: folds the frontier right to left, the smallest subtree innermost. */
  root(): Uint8Array {
    const last = this.#frontier.length - 1;
    if (last < 0) return emptyRoot();
    let acc = this.#frontier[last] as Uint8Array;
    for (let i = last - 1; i >= 0; i--) acc = nodeHash(this.#frontier[i] as Uint8Array, acc);
    return acc === this.#frontier[last] ? acc.slice() : acc;
  }

  /** The complete subtree roots, largest (leftmost) first: the state to persist and resume from. */
  frontier(): Uint8Array[] {
    return this.#frontier.map((h) => h.slice());
  }
}

/**
 * MTH(D[n]) of RFC 6962 §2.1, level by level: pairing neighbours and lifting an odd last node
 * unchanged gives the same tree as the recursive split at the largest power of two.
 */
export function rootHash(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return emptyRoot();
  leaves.forEach((h, i) => assertHash(`leaves[${i}]`, h));
  let level: readonly Uint8Array[] = leaves;
  while (level.length > 1) level = parentLevel(level);
  return (level[0] as Uint8Array).slice();
}

function parentLevel(level: readonly Uint8Array[]): Uint8Array[] {
  const parents: Uint8Array[] = [];
  for (let i = 0; i + 1 < level.length; i += 2)
    parents.push(nodeHash(level[i] as Uint8Array, level[i + 1] as Uint8Array));
  if (isOdd(level.length)) parents.push(level[level.length - 1] as Uint8Array);
  return parents;
}

/** A SubtreeHash over an in-memory array of leaf hashes. */
export function subtreeHashFromArray(leaves: readonly Uint8Array[]): SubtreeHash {
  return (start, end) => rootHash(leaves.slice(start, end));
}

/**
 * A SubtreeHash that streams the range's leaves through a builder: O(log n) memory, for stores
 * that can hand out one leaf at a time but keep no subtree hashes.
 */
export function subtreeHashFromLeaves(getLeaf: LeafHashAt): SubtreeHash {
  return (start, end) => {
    const builder = new MerkleTreeBuilder();
    for (let i = start; i < end; i++) builder.append(getLeaf(i));
    return builder.root();
  };
}

// ---------------------------------------------------------------------------------------------
// Inclusion proofs.

/**
 * PATH(index, D[size]) of RFC 6962 §2.1.1, walking from the root down: at each split the proof
 * takes the hash of the half not holding the leaf. RFC order is leaf-side first, hence reverse().
 */
export function inclusionProofFromSubtrees(subtree: SubtreeHash, size: number, index: number): Uint8Array[] {
  assertSize("size", size);
  if (!Number.isSafeInteger(index) || index < 0 || index >= size)
    throw new RangeError(`index ${index} is outside a tree of ${size} leaves`);
  const path: Uint8Array[] = [];
  let lo = 0;
  let hi = size;
  while (hi - lo > 1) {
    const mid = lo + splitPoint(hi - lo);
    if (index < mid) {
      path.push(subtree(mid, hi));
      hi = mid;
    } else {
      path.push(subtree(lo, mid));
      lo = mid;
    }
  }
  return path.reverse();
}

/** PATH(index, D[n]) for the tree of all `leaves`. */
export function inclusionProof(leaves: readonly Uint8Array[], index: number): Uint8Array[] {
  return inclusionProofFromSubtrees(subtreeHashFromArray(leaves), leaves.length, index);
}

/** PATH(index, D[size]) reading one leaf hash at a time, without holding the tree in memory. */
export function inclusionProofFromHashes(getLeaf: LeafHashAt, size: number, index: number): Uint8Array[] {
  return inclusionProofFromSubtrees(subtreeHashFromLeaves(getLeaf), size, index);
}

/**
 * RFC 9162 §2.1.3.2: recomputes the root from the leaf and its path. fn/sn track the node's index
 * and the last index on the current level; they must reach the root (sn = 0) exactly as the path
 * runs out, which rejects truncated, extended and wrong-size proofs. Never throws on bad input.
 */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!isSize(index) || !isSize(treeSize) || index >= treeSize) return false;
  if (leaf.length !== HASH_SIZE || root.length !== HASH_SIZE || !allHashSized(proof)) return false;
  let fn = index;
  let sn = treeSize - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      // A right-edge node with no sibling is lifted unchanged: skip the levels it was lifted through.
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && bytesEqual(r, root);
}

// ---------------------------------------------------------------------------------------------
// Consistency proofs.

/**
 * PROOF(oldSize, D[newSize]) of RFC 6962 §2.1.2, with SUBPROOF's recursion unrolled. Each step
 * down contributes one sibling hash that RFC order lists after everything found deeper, so the
 * siblings are collected and reversed; the node where the old tree ends is listed first unless
 * it is the old root itself (the verifier already holds that). oldSize 0 or = newSize: [].
 */
export function consistencyProofFromSubtrees(subtree: SubtreeHash, oldSize: number, newSize: number): Uint8Array[] {
  assertSize("oldSize", oldSize);
  assertSize("newSize", newSize);
  if (oldSize > newSize) throw new RangeError(`oldSize ${oldSize} exceeds newSize ${newSize}`);
  if (oldSize === 0 || oldSize === newSize) return [];
  const siblings: Uint8Array[] = [];
  let lo = 0;
  let hi = newSize;
  let m = oldSize;
  let isOldRoot = true;
  while (m !== hi - lo) {
    const k = splitPoint(hi - lo);
    if (m <= k) {
      siblings.push(subtree(lo + k, hi));
      hi = lo + k;
    } else {
      siblings.push(subtree(lo, lo + k));
      lo += k;
      m -= k;
      isOldRoot = false;
    }
  }
  const head = isOldRoot ? [] : [subtree(lo, hi)];
  return [...head, ...siblings.reverse()];
}

/** PROOF(oldSize, D[n]) for the tree of all `leaves`. */
export function consistencyProof(leaves: readonly Uint8Array[], oldSize: number): Uint8Array[] {
  return consistencyProofFromSubtrees(subtreeHashFromArray(leaves), oldSize, leaves.length);
}

/** PROOF(oldSize, D[newSize]) reading one leaf hash at a time. */
export function consistencyProofFromHashes(getLeaf: LeafHashAt, oldSize: number, newSize: number): Uint8Array[] {
  return consistencyProofFromSubtrees(subtreeHashFromLeaves(getLeaf), oldSize, newSize);
}

/**
 * RFC 9162 §2.1.4.2: rebuilds both roots from one path. fr follows only the nodes left of the old
 * tree's edge, sr all of them. Stricter than the RFC's preamble on trivial cases: an empty old tree
 * must carry the empty-tree root, and equal sizes need equal roots with an empty proof.
 */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!isSize(oldSize) || !isSize(newSize) || oldSize > newSize) return false;
  if (oldRoot.length !== HASH_SIZE || newRoot.length !== HASH_SIZE || !allHashSized(proof)) return false;
  if (oldSize === 0) return proof.length === 0 && bytesEqual(oldRoot, emptyRoot());
  if (oldSize === newSize) return proof.length === 0 && bytesEqual(oldRoot, newRoot);
  if (proof.length === 0) return false;
  // A power-of-two old tree is a complete subtree of the new one: its root starts the path.
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : proof;
  return rootsFromConsistencyPath(oldSize, newSize, path, oldRoot, newRoot);
}

function rootsFromConsistencyPath(
  oldSize: number,
  newSize: number,
  path: readonly Uint8Array[],
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
): boolean {
  let fn = oldSize - 1;
  let sn = newSize - 1;
  // Skip the levels where the old tree's last node is a right child already inside path[0].
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0] as Uint8Array;
  let sr = fr;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && bytesEqual(fr, oldRoot) && bytesEqual(sr, newRoot);
}
