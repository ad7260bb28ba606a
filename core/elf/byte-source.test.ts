// BufferByteSource and FileByteSource: ranges, short reads at the end, and
// descriptor handling.

import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BufferByteSource, FileByteSource, withElfFile } from './byte-source';
import { ElfError } from './errors';
import { makeTempDir, removeTempDir } from './test-support';

let dir: string;
let file: string;
const content = Buffer.from(Array.from({ length: 300 }, (_, index) => index % 256));

beforeAll(() => {
  dir = makeTempDir();
  file = path.join(dir, 'data.bin');
  fs.writeFileSync(file, content);
});

afterAll(() => {
  removeTempDir(dir);
});

describe('BufferByteSource', () => {
  it('reads ranges and stops at the end', () => {
    const source = new BufferByteSource(content);

    expect(source.size).toBe(300);
    expect([...source.read(10, 3)]).toEqual([10, 11, 12]);
    expect(source.read(290, 50)).toHaveLength(10);
    expect(source.read(300, 5)).toHaveLength(0);
    expect(source.read(1000, 5)).toHaveLength(0);
    expect(source.read(-1, 5)).toHaveLength(0);
  });

  it('returns views without copying', () => {
    const bytes = new Uint8Array(16);
    const view = new BufferByteSource(bytes).read(4, 4);

    expect(view.buffer).toBe(bytes.buffer);
  });
});

describe('FileByteSource', () => {
  it('reads positioned ranges', () => {
    withElfFile(file, (source) => {
      expect(source.size).toBe(300);
      expect([...source.read(256, 4)]).toEqual([0, 1, 2, 3]);
      expect([...source.read(0, 2)]).toEqual([0, 1]);
      expect(source.read(295, 100)).toHaveLength(5);
      expect(source.read(400, 1)).toHaveLength(0);
      expect(source.bytesRead).toBe(11);
    });
  });

  it('withElfFile closes the file', () => {
    const source = withElfFile(file, (opened) => opened);
    const error = (() => {
      try {
        source.read(0, 1);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();

    expect(error).toBeInstanceOf(ElfError);
    expect((error as ElfError).code).toBe('io');
    expect(() => source.close()).not.toThrow();
  });

  it('missing file', () => {
    const missing = path.join(dir, 'missing');
    expect(() => FileByteSource.open(missing)).toThrowError(new ElfError('io', `${missing} not found: no such file`, missing));
  });

  it('directory', () => {
    expect(() => FileByteSource.open(dir)).toThrowError(new ElfError('io', `${dir} is a directory, not a program file`, dir));
  });
});
