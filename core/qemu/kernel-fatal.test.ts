import { describe, expect, it } from 'vitest';

import { KernelFatalWatcher } from './kernel-fatal';
import { parseKlogDump } from './klog-dump';

// Console output of Nanos 0.1.55 for a program started with 5000 arguments.
const ASSERTION_REPORT = [
  '[0.333200] en1: assigned 10.0.2.15',
  '',
  'frame trace: ',
  'ffffc00002607f50:   ffffffffc63faef9\t(runloop_internal + 0000000000000479/0000000000000af8)',
  '',
  'kernel load offset ffffffffc619d000',
  '',
  'loaded klibs: ',
  'assertion is_kernel_context(ctx) failed at /nanos/src/kernel/kernel.h:471 (IP 0xffffffffc64846d0) in use_fault_handler()',
];

function feedAll(lines: readonly string[]): { watcher: KernelFatalWatcher; starts: number } {
  const watcher = new KernelFatalWatcher();
  let starts = 0;
  for (const line of lines) if (watcher.feed(line)) starts += 1;
  return { watcher, starts };
}

describe('KernelFatalWatcher', () => {
  it('quotes the assertion, not the frame trace', () => {
    const { watcher, starts } = feedAll(ASSERTION_REPORT);

    expect(watcher.detected).toBe(true);
    expect(starts).toBe(1);
    expect(watcher.message).toBe('assertion is_kernel_context(ctx) failed at /nanos/src/kernel/kernel.h:471 (IP 0xffffffffc64846d0) in use_fault_handler()');
  });

  it.each([
    ['Out of memory: cannot allocate 4194304 bytes'],
    ['no fault handler'],
    ['cpu 0, state kernel, vector 14'],
    ['program startup failed before exec: (result:elf parse failed)'],
  ])('detects %s', (line) => {
    const { watcher } = feedAll(['[0.1] en1: assigned 10.0.2.15', line]);

    expect(watcher.message).toBe(line);
  });

  it.each([
    ['listening on port 8080'],
    ['assertion failed: x > 0'],
    ['[0.308914] page fill failed with (result:out of memory)'],
    ['frame trace of my program'],
  ])('ignores %s', (line) => {
    expect(feedAll([line]).watcher.detected).toBe(false);
  });
});

describe('parseKlogDump', () => {
  it('reads magic, boot id, exit code and text', () => {
    const area = Buffer.alloc(4096);
    area.write('KLOG', 0, 'latin1');
    area.writeBigUInt64LE(7n, 4);
    area.writeInt32LE(200, 12);
    area.write('exiting with 200\n', 16, 'utf8');

    expect(parseKlogDump(area)).toEqual({ bootId: 7n, exitCode: 200, text: 'exiting with 200\n' });
  });

  it('an area without the magic holds no dump', () => {
    expect(parseKlogDump(Buffer.alloc(4096))).toBeUndefined();
  });
});
