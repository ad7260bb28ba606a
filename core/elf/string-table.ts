// The dynamic string table (DT_STRTAB, DT_STRSZ bytes). A large program's
// table can be several MB, so it is read whole only when symbol names follow.
// For DT_NEEDED, DT_SONAME and the search paths alone, a small window is read
// around each string instead.

import { type ElfReadContext, corrupt, readRegion } from './binary';

const WINDOW_SIZE = 16 * 1024;

export class StringTable {
  private window: Buffer = Buffer.alloc(0);
  private windowStart = 0;

  /**
   * `offset` and `size` must lie inside the file; the caller checks them.
   * With `eager` the whole table is read at once.
   */
  constructor(
    private readonly context: ElfReadContext,
    private readonly offset: number,
    readonly size: number,
    eager: boolean,
  ) {
    if (eager) {
      this.load(0, size);
    }
  }

  /**
   * Returns the NUL-terminated string at `index` (an offset into the table).
   * Throws ElfError 'corrupt' naming `field` when the index is outside the
   * table or the string has no NUL before the table ends.
   */
  get(index: number, field: string): string {
    if (index < 0 || index >= this.size) {
      throw corrupt(this.context, `${field} string offset ${index} is outside the dynamic string table (DT_STRSZ ${this.size})`);
    }

    let end = this.findNul(index);
    if (end < 0) {
      // The string runs past the current window: read from its start up to
      // the end of the table, which also covers the next strings.
      this.load(index, this.size - index);
      end = this.findNul(index);
      if (end < 0) {
        throw corrupt(this.context, `${field} string at offset ${index} is not NUL-terminated inside the dynamic string table`);
      }
    }

    const start = index - this.windowStart;
    return this.window.toString('utf8', start, end - this.windowStart);
  }

  /** Returns the table offset of the NUL ending the string at `index`, or -1 if the window ends first. */
  private findNul(index: number): number {
    const inWindow = index >= this.windowStart && index < this.windowStart + this.window.length;
    if (!inWindow) {
      this.load(index, Math.min(WINDOW_SIZE, this.size - index));
    }
    const nul = this.window.indexOf(0, index - this.windowStart);
    return nul < 0 ? -1 : nul + this.windowStart;
  }

  private load(start: number, length: number): void {
    const region = readRegion(this.context, this.offset + start, length, 'the dynamic string table (DT_STRTAB)');
    const bytes = region.bytes;
    this.window = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.windowStart = start;
  }
}
