/** A growable byte array for building log extensions and encoded tuples. */
export class ByteWriter {
  private buffer: Uint8Array;
  private used = 0;

  constructor(initialCapacity = 256) {
    this.buffer = new Uint8Array(Math.max(16, initialCapacity));
  }

  get length(): number {
    return this.used;
  }

  pushByte(value: number): void {
    this.reserve(1);
    this.buffer[this.used] = value;
    this.used += 1;
  }

  pushBytes(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.used);
    this.used += bytes.length;
  }

  /** Drops the bytes written so far and keeps the capacity. */
  clear(): void {
    this.used = 0;
  }

  /** Returns a view of the bytes written so far. A later push may reallocate and detach it. */
  view(): Uint8Array {
    return this.buffer.subarray(0, this.used);
  }

  /** Returns a copy of the bytes written so far. */
  toBytes(): Uint8Array {
    return this.buffer.slice(0, this.used);
  }

  private reserve(extra: number): void {
    const needed = this.used + extra;
    if (needed <= this.buffer.length) return;

    let capacity = this.buffer.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.buffer.subarray(0, this.used));
    this.buffer = grown;
  }
}
