import { describe, expect, it } from 'vitest';

import { NanosImageError } from './errors';
import { buildImageTree, findNode, resolvePath, walkFiles, type ImageEntry, type TreeDirectory } from './image-tree';

const file = (path: string): ImageEntry => ({ kind: 'file', path, contents: new Uint8Array(1) });

function names(directory: TreeDirectory): string[] {
  return [...directory.children.keys()];
}

describe('buildImageTree', () => {
  it('creates implied parent directories', () => {
    const root = buildImageTree([file('/usr/lib/x/libz.so')]);

    expect(findNode(root, '/usr')).toMatchObject({ kind: 'directory', entryIndex: -1 });
    expect(findNode(root, '/usr/lib/x')).toMatchObject({ kind: 'directory' });
    expect(findNode(root, '/usr/lib/x/libz.so')).toMatchObject({ kind: 'file', entryIndex: 0 });
  });

  it('sorts children by UTF-8 bytes', () => {
    const root = buildImageTree([file('/b'), file('/a'), file('/Z'), file('/é'), file('/a0'), { kind: 'directory', path: '/_' }]);

    expect(names(root)).toEqual(['Z', '_', 'a', 'a0', 'b', 'é']);
  });

  it('lists files depth first in sorted order', () => {
    const root = buildImageTree([file('/z'), file('/d/b'), file('/d/a'), file('/c')]);

    expect([...walkFiles(root)].map((node) => node.path)).toEqual(['/c', '/d/a', '/d/b', '/z']);
  });

  it('accepts entry for implied directory', () => {
    const root = buildImageTree([file('/etc/hosts'), { kind: 'directory', path: '/etc' }]);

    expect(findNode(root, '/etc')).toMatchObject({ kind: 'directory', entryIndex: 1 });
  });

  it.each([
    ['a relative path', 'etc/hosts', /not absolute/],
    ['the root', '/', /root directory/],
    ['a trailing slash', '/etc/', /trailing slash/],
    ['an empty component', '/etc//hosts', /normalized/],
    ['a dot component', '/etc/./hosts', /normalized/],
    ['a dot-dot component', '/etc/../hosts', /normalized/],
  ])('rejects %s', (_, path, message) => {
    expect(() => buildImageTree([file(path)])).toThrow(message);
  });

  it('rejects a file with both source and contents', () => {
    const entry = { kind: 'file', path: '/x', source: '/host/x', contents: new Uint8Array() } as unknown as ImageEntry;

    expect(() => buildImageTree([entry])).toThrow(/exactly one of `source`/);
  });

  it('rejects an unknown kind', () => {
    expect(() => buildImageTree([{ kind: 'fifo', path: '/x' } as unknown as ImageEntry])).toThrow(/"fifo"/);
  });

  it('rejects an empty symlink target', () => {
    expect(() => buildImageTree([{ kind: 'symlink', path: '/x', target: '' }])).toThrow(/target is empty/);
  });

  it('names both entries of a duplicate path', () => {
    const build = (): unknown => buildImageTree([file('/etc/hosts'), { kind: 'file', path: '/etc/hosts', source: '/host/hosts' }]);

    expect(build).toThrow(NanosImageError);
    expect(build).toThrow('Image entry 1 (file /etc/hosts from /host/hosts) has the same path as entry 0 (file /etc/hosts)');
  });

  it('names both case-colliding entries', () => {
    const build = (): unknown => buildImageTree([file('/lib/Foo.so'), file('/lib/foo.so')]);

    expect(build).toThrow('Image entry 1 (file /lib/foo.so) differs only in case from entry 0 (file /lib/Foo.so)');
  });

  it('names implied directory in collision', () => {
    expect(() => buildImageTree([file('/Lib/a'), file('/lib')])).toThrow('the directory /Lib implied by deeper paths');
  });

  it('rejects a path below a file', () => {
    const build = (): unknown => buildImageTree([{ kind: 'symlink', path: '/lib', target: 'usr/lib' }, file('/lib/libc.so')]);

    expect(build).toThrow('Image entry 1 (file /lib/libc.so) needs /lib to be a directory, but entry 0 (symlink /lib) makes it a symlink');
  });

  it('rejects a file over an implied directory', () => {
    expect(() => buildImageTree([file('/etc/hosts'), file('/etc')])).toThrow(/same path as the directory \/etc implied by deeper paths/);
  });
});

describe('resolvePath', () => {
  const root = buildImageTree([
    file('/usr/lib/libc.so.6'),
    { kind: 'symlink', path: '/lib', target: 'usr/lib' },
    { kind: 'symlink', path: '/usr/lib/libc.so', target: '../lib/./libc.so.6' },
    { kind: 'symlink', path: '/bin/app', target: '/lib/libc.so' },
    { kind: 'symlink', path: '/loop/a', target: 'b' },
    { kind: 'symlink', path: '/loop/b', target: 'a' },
  ]);

  it('follows relative and absolute links', () => {
    expect(resolvePath(root, '/bin/app')).toBe(findNode(root, '/usr/lib/libc.so.6'));
  });

  it('follows a link to a directory', () => {
    expect(resolvePath(root, '/lib/libc.so.6')?.path).toBe('/usr/lib/libc.so.6');
  });

  it('returns undefined for missing paths', () => {
    expect(resolvePath(root, '/lib/missing')).toBeUndefined();
    expect(resolvePath(root, '/usr/lib/libc.so.6/x')).toBeUndefined();
  });

  it('stops at symlink loops', () => {
    expect(resolvePath(root, '/loop/a')).toBeUndefined();
  });
});
