/**
 * Bytes received in pieces, taken out in the sizes a parser needs. take() returns a view into
 * the received piece when it can (no copy) and copies only across piece boundaries; pushed
 * buffers must therefore not be reused by the caller.
 */
export class ByteQueue {
  private parts: Uint8Array[] = [];
  private head = 0;
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.parts.push(bytes);
    this.size += bytes.length;
  }

  /** The next `n` bytes without consuming them (n <= length). */
  peek(n: number): Uint8Array {
    return this.read(n, false);
  }

  /** Removes and returns the next `n` bytes (n <= length). */
  take(n: number): Uint8Array {
    return this.read(n, true);
  }

  /** Everything left, consumed. */
  drain(): Uint8Array {
    return this.take(this.size);
  }

  private read(n: number, consume: boolean): Uint8Array {
    if (n > this.size) throw new RangeError(`need ${n} bytes, have ${this.size}`);
    const first = this.parts[0];
    if (n === 0 || !first) return new Uint8Array(0);
    if (first.length - this.head >= n) {
      const out = first.subarray(this.head, this.head + n);
      if (consume) this.advance(n);
      return out;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    let part = 0;
    let offset = this.head;
    while (filled < n) {
      const p = this.parts[part]!;
      const k = Math.min(n - filled, p.length - offset);
      out.set(p.subarray(offset, offset + k), filled);
      filled += k;
      part++;
      offset = 0;
    }
    if (consume) this.advance(n);
    return out;
  }

  private advance(n: number): void {
    this.size -= n;
    let left = n;
    while (left > 0) {
      const first = this.parts[0]!;
      const available = first.length - this.head;
      if (available > left) {
        this.head += left;
        return;
      }
      left -= available;
      this.parts.shift();
      this.head = 0;
    }
  }
}
