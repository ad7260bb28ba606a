import { describe, expect, it } from 'vitest';

import { ByteWriter } from './byte-writer';
import { NanosImageError } from './errors';
import { NULL_VALUE, Tuple } from './tuple';
import { TYPE_BUFFER, TupleDecoder, TupleEncoder, pushHeader } from './tuple-encoding';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const fromHex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const ascii = (text: string): string => Buffer.from(text, 'latin1').toString('hex');

function header(immediate: boolean, type: number, length: number): string {
  const out = new ByteWriter();
  pushHeader(out, immediate, type, length);
  return hex(out.view());
}

describe('tuple header', () => {
  it.each([
    [true, 7, '87'],
    [true, 8, '8808'],
    [false, 300, '0a2c'],
    [false, 1024, '088800'],
    [true, 0, '80'],
  ])('immediate=%s length %i is %s', (immediate, length, expected) => {
    expect(header(immediate, TYPE_BUFFER, length)).toBe(expected);
  });
});

// The root tuple of an ops-style root filesystem holding /hello: numbers are
// decimal strings and the file's extents sit inside the root tuple. The bytes
// are those ops writes (`encodeTuple` in ops fs/tfs.go) and Nanos reads.
const OPS_HELLO_ROOT = [
  '94',
  '8808' + ascii('children'),
  '91',
  '85' + ascii('hello'),
  '92',
  '880a' + ascii('filelength'),
  'c1' + ascii('5'),
  '87' + ascii('extents'),
  '91',
  '81' + ascii('0'),
  '93',
  '86' + ascii('length'),
  'c1' + ascii('1'),
  '86' + ascii('offset'),
  'c4' + ascii('1025'),
  '8809' + ascii('allocated'),
  'c1' + ascii('1'),
  '87' + ascii('program'),
  'c6' + ascii('/hello'),
  '8809' + ascii('arguments'),
  'a1',
  'c5' + ascii('hello'),
  '880b' + ascii('environment'),
  '91',
  '84' + ascii('USER'),
  'c4' + ascii('root'),
].join('');

// The same content as Nanos mkfs logs it: the root tuple with an empty file
// tuple, then three attribute updates of the file (src/fs/tfs.c).
const MKFS_HELLO_ENTRIES = [
  [
    '94',
    '8808' + ascii('children'),
    '91',
    '85' + ascii('hello'),
    '90',
    '87' + ascii('program'),
    'c6' + ascii('/hello'),
    '880b' + ascii('environment'),
    '91',
    '84' + ascii('USER'),
    'c4' + ascii('root'),
    '8809' + ascii('arguments'),
    'a1',
    'c5' + ascii('hello'),
  ].join(''),
  '1105' + '87' + ascii('extents') + '90',
  '110d' + '8130' + '93' + '86' + ascii('offset') + 'b09801' + '86' + ascii('length') + 'b001' + '8809' + ascii('allocated') + 'b001',
  '1105' + '880a' + ascii('filelength') + 'b005',
];

describe('TupleEncoder', () => {
  it('encodes the ops-style hello root tuple', () => {
    const extent = new Tuple([
      ['length', '1'],
      ['offset', '1025'],
      ['allocated', '1'],
    ]);
    const hello = new Tuple([
      ['filelength', '5'],
      ['extents', new Tuple([['0', extent]])],
    ]);
    const root = new Tuple([
      ['children', new Tuple([['hello', hello]])],
      ['program', '/hello'],
      ['arguments', ['hello']],
      ['environment', new Tuple([['USER', 'root']])],
    ]);

    const bytes = new TupleEncoder().encodeTuple(root);

    expect(bytes.length).toBe(136);
    expect(hex(bytes)).toBe(OPS_HELLO_ROOT);
  });

  it('encodes the mkfs hello log entries', () => {
    const encoder = new TupleEncoder();
    const hello = new Tuple();
    const root = new Tuple([
      ['children', new Tuple([['hello', hello]])],
      ['program', '/hello'],
      ['environment', new Tuple([['USER', 'root']])],
      ['arguments', ['hello']],
    ]);
    const extents = new Tuple();
    const extent = new Tuple([
      ['offset', 3073n],
      ['length', 1n],
      ['allocated', 1n],
    ]);

    const entries = [
      encoder.encodeTuple(root),
      encoder.encodeAttributeUpdate(hello, 'extents', extents),
      encoder.encodeAttributeUpdate(extents, '0', extent),
      encoder.encodeAttributeUpdate(hello, 'filelength', 5n),
    ];

    expect(entries.map((entry) => entry.length)).toEqual([76, 11, 37, 16]);
    expect(entries.map(hex)).toEqual(MKFS_HELLO_ENTRIES);
  });

  it('encodes repeated tuple as reference', () => {
    const file = new Tuple([['filelength', 0n]]);
    const root = new Tuple([
      [
        'children',
        new Tuple([
          ['a', file],
          ['hl', file],
        ]),
      ],
    ]);

    const bytes = hex(new TupleEncoder().encodeTuple(root));

    // root [1], children [2], (a hl) [3], a [4], file [5], filelength [6], hl [7]: hl is 10 05.
    expect(bytes.endsWith('82' + ascii('hl') + '1005')).toBe(true);
  });

  it('reuses symbols by reference', () => {
    const encoder = new TupleEncoder();
    const first = new Tuple([['extents', new Tuple()]]);
    const second = new Tuple([['extents', new Tuple()]]);
    const root = new Tuple([['children', new Tuple([['a', first], ['b', second]])]]);

    const bytes = hex(encoder.encodeTuple(root));

    // extents is dictionary index 6, so its second use is the single byte 06.
    expect(bytes.endsWith('81' + ascii('b') + '91' + '06' + '90')).toBe(true);
  });

  it('encodes integers, the null value and deletions', () => {
    const encoder = new TupleEncoder();
    const target = new Tuple();
    encoder.encodeTuple(target);

    expect(hex(encoder.encodeAttributeUpdate(target, 'n', -5n))).toBe('1101' + '81' + ascii('n') + 'b105');
    expect(hex(encoder.encodeAttributeUpdate(target, 'u', NULL_VALUE))).toBe('1101' + '81' + ascii('u') + '8100');
    expect(hex(encoder.encodeAttributeUpdate(target, 'n', undefined))).toBe('1101' + '02' + '80');
  });
});

describe('TupleDecoder', () => {
  it('decodes the mkfs hello log entries', () => {
    const decoder = new TupleDecoder();
    const results = MKFS_HELLO_ENTRIES.map((entry, index) => decoder.decodeEntry(fromHex(entry), false, `entry ${index}`));
    const root = results[0]!;

    expect(decoder.entry(1)).toBe(root);
    expect(root.get('program')).toBe('/hello');
    expect(root.get('arguments')).toEqual(['hello']);
    expect((root.get('environment') as Tuple).get('USER')).toBe('root');

    const hello = (root.get('children') as Tuple).get('hello') as Tuple;
    expect(hello.get('filelength')).toBe(5n);
    const extent = (hello.get('extents') as Tuple).get('0') as Tuple;
    expect([...extent.attributes]).toEqual([
      ['offset', 3073n],
      ['length', 1n],
      ['allocated', 1n],
    ]);
  });

  it('decodes what the encoder wrote', () => {
    const encoder = new TupleEncoder();
    const shared = new Tuple([['linktarget', '/x']]);
    const root = new Tuple([
      ['children', new Tuple([['s', shared], ['t', shared]])],
      ['list', ['a', ['b', 'c'], new Tuple([['k', 'v']])]],
      ['big', 7715541016816079140n],
      ['negative', -3n],
      ['flag', NULL_VALUE],
      ['empty', ''],
    ]);

    const decoder = new TupleDecoder();
    const decoded = decoder.decodeEntry(encoder.encodeTuple(root), false, 'entry');

    const children = decoded.get('children') as Tuple;
    expect(children.get('s')).toBe(children.get('t'));
    expect((children.get('s') as Tuple).get('linktarget')).toBe('/x');
    expect(decoded.get('list')).toEqual(['a', ['b', 'c'], new Tuple([['k', 'v']])]);
    expect(decoded.get('big')).toBe(7715541016816079140n);
    expect(decoded.get('negative')).toBe(-3n);
    expect(decoded.get('flag')).toBe(NULL_VALUE);
    expect(decoded.get('empty')).toBe('');
    expect(decoder.dictionarySize).toBe(encoderDictionarySize(root));
  });

  it('merges references and deletes attributes', () => {
    const decoder = new TupleDecoder();
    decoder.decodeEntry(fromHex('92' + '81' + ascii('a') + 'c1' + ascii('x') + '81' + ascii('b') + 'c1' + ascii('y')), false, 'first');
    const merged = decoder.decodeEntry(fromHex('1201' + '02' + '80' + '81' + ascii('c') + 'b007'), false, 'second');

    expect([...merged.attributes]).toEqual([
      ['b', 'y'],
      ['c', 7n],
    ]);
  });

  it('decodes version 4 entries', () => {
    // Version 4: bit 6 is the type (1 tuple), bit 5 the extension flag, and scalars are buffers.
    const decoded = new TupleDecoder().decodeEntry(fromHex('c1' + '81' + ascii('a') + '82' + ascii('bc')), true, 'v4');

    expect(Buffer.from(decoded.get('a') as Uint8Array).toString()).toBe('bc');
  });

  it.each([
    ['an unknown reference', '1109' + '81' + ascii('a') + 'b001', /dictionary index 9/],
    ['a truncated entry', '92' + '81' + ascii('a'), /ends in the middle/],
    ['a string entry', 'c1' + ascii('x'), /not a tuple/],
    ['trailing bytes', '90' + '00', /left after/],
    ['an unknown type', '90'.replace('90', 'f0'), /type 7/],
  ])('rejects %s', (_, bytes, message) => {
    const decode = (): unknown => new TupleDecoder().decodeEntry(fromHex(bytes), false, 'entry');

    expect(decode).toThrow(NanosImageError);
    expect(decode).toThrow(message);
  });
});

// Counts the dictionary entries an encoding of `root` creates: tuples, vectors and distinct symbols.
function encoderDictionarySize(root: Tuple): number {
  const objects = new Set<object>();
  const symbols = new Set<string>();
  const visit = (value: unknown): void => {
    if (value instanceof Tuple) {
      if (objects.has(value)) return;
      objects.add(value);
      for (const [name, child] of value.attributes) {
        symbols.add(name);
        visit(child);
      }
    } else if (Array.isArray(value)) {
      objects.add(value);
      value.forEach(visit);
    }
  };
  visit(root);
  return objects.size + symbols.size;
}
