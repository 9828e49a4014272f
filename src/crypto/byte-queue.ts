/** A FIFO of byte slices that hands out exact-size pieces without re-copying what stays queued. */
export class ByteQueue {
  #parts: Buffer[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#parts.push(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    this.#length += bytes.length;
  }

  /** Removes the first `n` bytes (n <= length) as views of the queued buffers, without copying. */
  takeParts(n: number): Buffer[] {
    if (n > this.#length) throw new Error("ByteQueue underflow");
    const out: Buffer[] = [];
    let needed = n;
    while (needed > 0) {
      const head = this.#parts[0] as Buffer;
      if (head.length <= needed) {
        out.push(head);
        this.#parts.shift();
        needed -= head.length;
      } else {
        out.push(head.subarray(0, needed));
        this.#parts[0] = head.subarray(needed);
        needed = 0;
      }
    }
    this.#length -= n;
    return out;
  }

  /** Removes and returns the first `n` bytes (n <= length) as one buffer. */
  take(n: number): Buffer {
    const parts = this.takeParts(n);
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, n);
  }
}
