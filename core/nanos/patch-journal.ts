// An undo journal for an image patched in place. On a filesystem without
// reflinks a rebuild patches the previous image file itself (see moveImage in
// image-rebuild.ts). The journal keeps the bytes each write replaces, so a
// failed or interrupted patch puts the previous image back byte for byte
// instead of leaving no image at the output path.

import type { FileHandle } from 'node:fs/promises';

/**
 * Most bytes a journal keeps in memory. A patch that would write more is not
 * done in place (the writer writes in full instead), because it gains little
 * over a full write and its undo would need as much memory.
 */
export const MAX_JOURNAL_BYTES = 64 * 1024 * 1024;

export class PatchJournal {
  private readonly entries: Array<{ position: number; bytes: Buffer }> = [];
  private keptBytes = 0;

  private constructor(
    private readonly handle: FileHandle,
    private readonly originalSize: number,
  ) {}

  /** Starts a journal on an open file of `size` bytes. */
  static open(handle: FileHandle, size: number): PatchJournal {
    return new PatchJournal(handle, size);
  }

  /**
   * Returns a handle whose `write(buffer, offset, length, position)` first
   * saves the bytes it replaces. The writer uses only that form of write, and
   * truncate only to the same size or larger, which rollback undoes.
   */
  get output(): FileHandle {
    return new Proxy(this.handle, {
      get: (target, property, receiver) => {
        if (property === 'write') {
          return async (buffer: Uint8Array, offset: number, length: number, position: number) => {
            await this.save(position, length);
            return target.write(buffer, offset, length, position);
          };
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  private async save(position: number, length: number): Promise<void> {
    const end = Math.min(position + length, this.originalSize);
    if (end <= position) return;
    if (this.keptBytes + (end - position) > MAX_JOURNAL_BYTES) {
      throw new Error(`the patch journal would exceed ${MAX_JOURNAL_BYTES} bytes; the writer checks the patch size before patching in place`);
    }
    const bytes = Buffer.alloc(end - position);
    const { bytesRead } = await this.handle.read(bytes, 0, bytes.length, position);
    this.entries.push({ position, bytes: bytes.subarray(0, bytesRead) });
    this.keptBytes += bytesRead;
  }

  /** Writes the saved bytes back, newest first, and restores the original size. */
  async rollback(): Promise<void> {
    for (const { position, bytes } of this.entries.reverse()) await this.handle.write(bytes, 0, bytes.length, position);
    this.entries.length = 0;
    await this.handle.truncate(this.originalSize);
  }
}
