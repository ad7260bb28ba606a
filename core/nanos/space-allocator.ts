// First-fit sector allocator with the behaviour of `filesystem_allocate_storage`
// in Nanos's src/fs/tfs.c: each request takes the lowest gap that fits it.

interface SectorRange {
  start: number;
  end: number;
}

export class SpaceAllocator {
  // Sorted, non-overlapping, non-adjacent reserved ranges.
  private readonly reserved: SectorRange[] = [];

  /** `limit` is the filesystem size in sectors, or Infinity for a filesystem that grows with its file. */
  constructor(readonly limit: number) {}

  /** Reserves sectors [start, start + count). Throws if any of them is taken or past the limit. */
  reserve(start: number, count: number): void {
    const end = start + count;
    if (count <= 0 || end > this.limit) throw new RangeError(`cannot reserve sectors ${start}..${end - 1} of ${this.limit}`);

    const index = this.reserved.findIndex((range) => range.end >= start);
    const next = this.reserved[index];
    if (next && next.start < end && next.end > start) throw new RangeError(`sectors ${start}..${end - 1} overlap reserved sectors ${next.start}..${next.end - 1}`);
    this.insert(index < 0 ? this.reserved.length : index, start, end);
  }

  /** Reserves `count` sectors in the lowest gap that fits them and returns the first sector, or undefined when none fits. */
  allocate(count: number): number | undefined {
    let gapStart = 0;
    for (let i = 0; i <= this.reserved.length; i++) {
      const range = this.reserved[i];
      const gapEnd = range ? range.start : this.limit;
      if (gapEnd - gapStart >= count) {
        this.insert(i, gapStart, gapStart + count);
        return gapStart;
      }
      if (range) gapStart = range.end;
    }
    return undefined;
  }

  /** Number of sectors reserved so far. */
  get reservedSectors(): number {
    return this.reserved.reduce((sum, range) => sum + range.end - range.start, 0);
  }

  // Inserts [start, end) before reserved[index], merging with neighbours that touch it.
  private insert(index: number, start: number, end: number): void {
    const before = this.reserved[index - 1];
    const after = this.reserved[index];
    const joinsBefore = before !== undefined && before.end === start;
    const joinsAfter = after !== undefined && after.start === end;

    if (joinsBefore && joinsAfter) {
      before.end = after.end;
      this.reserved.splice(index, 1);
    } else if (joinsBefore) {
      before.end = end;
    } else if (joinsAfter) {
      after.start = start;
    } else {
      this.reserved.splice(index, 0, { start, end });
    }
  }
}
