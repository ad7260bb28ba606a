// Encoder and decoder of TFS values, version 5 (and version 4 for reading),
// following `push_header`, `pop_header`, `encode_*` and `decode_value` in
// Nanos's src/runtime/tuple.c.
//
// Every value starts with a header byte. Bit 7 set means immediate (the value
// follows), and clear means a reference to a dictionary entry. Bits 6..4 are
// the type, bit 3 is set when more length bytes follow, and bits 2..0 are the
// top bits of the length. Version 4 has a 1-bit type (buffer or tuple), the
// extension flag in bit 5 and 5 length bits.
//
// The dictionary is one counter per log, starting at 1. Every immediate tuple,
// immediate vector and immediate symbol gets the next index, in stream order.
// The first tuple of the log (index 1) is the filesystem root.

import { ByteWriter } from './byte-writer';
import { NanosImageError } from './errors';
import { NULL_VALUE, Tuple, type TupleValue, type TupleVector } from './tuple';
import { pushVarint, readSmallVarint, readVarint } from './varint';

export const TYPE_BUFFER = 0;
export const TYPE_TUPLE = 1;
export const TYPE_VECTOR = 2;
export const TYPE_INTEGER = 3;
export const TYPE_STRING = 4;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8');

/**
 * Appends a value header. The length takes the fewest extra bytes: none when
 * it fits in 3 bits, otherwise ceil((bit length - 3) / 7) bytes of 7 bits each,
 * most significant first.
 */
export function pushHeader(out: ByteWriter, immediate: boolean, type: number, length: number): void {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`tuple header length ${length} is not a non-negative safe integer`);
  }

  const first = (immediate ? 0x80 : 0) | (type << 4);
  if (length < 8) {
    out.pushByte(first | length);
    return;
  }

  let bits = 0;
  for (let rest = length; rest >= 1; rest = Math.floor(rest / 2)) bits += 1;
  const extraBytes = bits > 3 ? Math.ceil((bits - 3) / 7) : 0;
  const topBits = Math.floor(length / 2 ** (7 * extraBytes));
  out.pushByte(first | 0x08 | topBits);

  for (let i = extraBytes - 1; i >= 0; i--) {
    const group = Math.floor(length / 2 ** (7 * i)) % 128;
    out.pushByte(group | (i > 0 ? 0x80 : 0));
  }
}

/**
 * Encodes log entries against one log's dictionary. Use one encoder per
 * filesystem and encode entries in log order, because each entry's references
 * depend on everything encoded before it.
 */
export class TupleEncoder {
  private dictionarySize = 0;
  private readonly symbolIndexes = new Map<string, number>();
  private readonly objectIndexes = new Map<Tuple | TupleVector, number>();
  // Tuples and vectors already written in the entry being encoded. One set is reused to spare an allocation per entry.
  private readonly visited = new Set<Tuple | TupleVector>();

  /** Returns the dictionary index of a tuple or vector already encoded, or undefined. */
  indexOf(object: Tuple | TupleVector): number | undefined {
    return this.objectIndexes.get(object);
  }

  /** Appends a whole tuple as one log entry to `out`, as `encode_tuple` does for `log_write`. */
  appendTuple(out: ByteWriter, tuple: Tuple): void {
    this.visited.clear();
    this.writeTuple(out, tuple, this.visited);
  }

  /**
   * Appends an update of one attribute of `target` to `out`, as `encode_eav`
   * does for `log_write_eav`. A `value` of undefined deletes the attribute.
   */
  appendAttributeUpdate(out: ByteWriter, target: Tuple, name: string, value: TupleValue | undefined): void {
    const index = this.objectIndexes.get(target);
    if (index !== undefined) {
      pushHeader(out, false, TYPE_TUPLE, 1);
      pushVarint(out, index);
    } else {
      pushHeader(out, true, TYPE_TUPLE, 1);
      this.record(target);
    }

    this.writeSymbol(out, name);
    this.visited.clear();
    this.visited.add(target);
    this.writeValue(out, value, this.visited);
  }

  /** Returns the bytes of `appendTuple` as a new array. */
  encodeTuple(tuple: Tuple): Uint8Array {
    const out = new ByteWriter(256);
    this.appendTuple(out, tuple);
    return out.toBytes();
  }

  /** Returns the bytes of `appendAttributeUpdate` as a new array. */
  encodeAttributeUpdate(target: Tuple, name: string, value: TupleValue | undefined): Uint8Array {
    const out = new ByteWriter(64);
    this.appendAttributeUpdate(out, target, name, value);
    return out.toBytes();
  }

  private record(object: Tuple | TupleVector): void {
    this.dictionarySize += 1;
    this.objectIndexes.set(object, this.dictionarySize);
  }

  private writeSymbol(out: ByteWriter, name: string): void {
    // A symbol reference stores the index in the header's length field, with no varint.
    const index = this.symbolIndexes.get(name);
    if (index !== undefined) {
      pushHeader(out, false, TYPE_BUFFER, index);
      return;
    }

    const bytes = utf8Encoder.encode(name);
    pushHeader(out, true, TYPE_BUFFER, bytes.length);
    out.pushBytes(bytes);
    this.dictionarySize += 1;
    this.symbolIndexes.set(name, this.dictionarySize);
  }

  private writeValue(out: ByteWriter, value: TupleValue | undefined, visited: Set<Tuple | TupleVector>): void {
    if (value === undefined) {
      pushHeader(out, true, TYPE_BUFFER, 0);
    } else if (value instanceof Tuple) {
      this.writeTuple(out, value, visited);
    } else if (Array.isArray(value)) {
      this.writeVector(out, value, visited);
    } else if (typeof value === 'bigint') {
      pushHeader(out, true, TYPE_INTEGER, value < 0n ? 1 : 0);
      pushVarint(out, value < 0n ? -value : value);
    } else if (typeof value === 'string') {
      const bytes = utf8Encoder.encode(value);
      pushHeader(out, true, TYPE_STRING, bytes.length);
      out.pushBytes(bytes);
    } else if (value === NULL_VALUE) {
      pushHeader(out, true, TYPE_BUFFER, 1);
      out.pushByte(0);
    } else {
      pushHeader(out, true, TYPE_BUFFER, value.length);
      out.pushBytes(value);
    }
  }

  // A tuple seen before in this entry is written as a reference with no
  // attributes, which is how a hard link (the same tuple in two directories) reads back.
  private writeTuple(out: ByteWriter, tuple: Tuple, visited: Set<Tuple | TupleVector>): void {
    const count = visited.has(tuple) ? 0 : tuple.size;
    const index = this.objectIndexes.get(tuple);
    if (index !== undefined) {
      pushHeader(out, false, TYPE_TUPLE, count);
      pushVarint(out, index);
    } else {
      pushHeader(out, true, TYPE_TUPLE, count);
      this.record(tuple);
    }
    if (count === 0) return;

    visited.add(tuple);
    for (const [name, value] of tuple.attributes) {
      this.writeSymbol(out, name);
      this.writeValue(out, value, visited);
    }
  }

  private writeVector(out: ByteWriter, vector: TupleVector, visited: Set<Tuple | TupleVector>): void {
    const count = visited.has(vector) ? 0 : vector.length;
    const index = this.objectIndexes.get(vector);
    if (index !== undefined) {
      pushHeader(out, false, TYPE_VECTOR, count);
      pushVarint(out, index);
    } else {
      pushHeader(out, true, TYPE_VECTOR, count);
      this.record(vector);
    }
    if (count === 0) return;

    visited.add(vector);
    for (const element of vector) this.writeValue(out, element, visited);
  }
}

/** A symbol in the decoder's dictionary. */
export class TupleSymbol {
  constructor(readonly name: string) {}
}

type DictionaryEntry = Tuple | TupleVector | TupleSymbol;

interface Header {
  immediate: boolean;
  type: number;
  length: number;
}

/**
 * Decodes the log entries of one filesystem in log order and keeps the
 * dictionary between them, as `log_parse_tuple` does while a log is replayed.
 */
export class TupleDecoder {
  private readonly dictionary: DictionaryEntry[] = [];
  private bytes: Uint8Array = new Uint8Array(0);
  private offset = 0;
  private oldEncoding = false;
  private context = '';

  /** Number of dictionary entries so far. The next immediate tuple, vector or symbol gets this plus 1. */
  get dictionarySize(): number {
    return this.dictionary.length;
  }

  /** Returns dictionary entry `index` (1-based), or undefined. */
  entry(index: number): DictionaryEntry | undefined {
    return this.dictionary[index - 1];
  }

  /**
   * Decodes one log entry. Throws a `corrupt-image` error, naming `context`,
   * when the bytes are malformed, a reference is unknown, bytes are left over,
   * or the entry is not a tuple (the kernel rejects those in `log_parse_tuple`).
   */
  decodeEntry(bytes: Uint8Array, oldEncoding: boolean, context: string): Tuple {
    this.bytes = bytes;
    this.offset = 0;
    this.oldEncoding = oldEncoding;
    this.context = context;

    const value = this.readValue();
    if (!(value instanceof Tuple)) {
      throw this.corrupt('the entry is not a tuple');
    }
    if (this.offset !== bytes.length) {
      throw this.corrupt(`${bytes.length - this.offset} bytes are left after the entry's value`);
    }
    return value;
  }

  private corrupt(reason: string): NanosImageError {
    return new NanosImageError('corrupt-image', `${this.context}: ${reason} (byte ${this.offset} of the entry).`);
  }

  private readByte(): number {
    const byte = this.bytes[this.offset];
    if (byte === undefined) throw this.corrupt('the entry ends in the middle of a value');
    this.offset += 1;
    return byte;
  }

  private readBytes(length: number): Uint8Array {
    if (this.offset + length > this.bytes.length) {
      throw this.corrupt(`a ${length}-byte value runs past the end of the entry`);
    }
    const slice = this.bytes.slice(this.offset, this.offset + length);
    this.offset += length;
    return slice;
  }

  private readHeader(): Header {
    const first = this.readByte();
    const immediate = (first & 0x80) !== 0;
    const type = this.oldEncoding ? (first >> 6) & 1 : (first >> 4) & 7;
    let length = first & (this.oldEncoding ? 0x1f : 0x07);
    const extended = (first & (this.oldEncoding ? 0x20 : 0x08)) !== 0;

    if (extended) {
      let byte: number;
      do {
        byte = this.readByte();
        length = length * 128 + (byte & 0x7f);
        if (length > Number.MAX_SAFE_INTEGER) throw this.corrupt('a header length is too large');
      } while (byte & 0x80);
    }

    return { immediate, type, length };
  }

  private readIndex(): number {
    const decoded = readSmallVarint(this.bytes, this.offset, this.context);
    this.offset = decoded.next;
    return decoded.value;
  }

  private lookup(index: number, referrer: string): DictionaryEntry {
    const found = this.dictionary[index - 1];
    if (index < 1 || found === undefined) throw this.corrupt(`${referrer} refers to dictionary index ${index}, which does not exist`);
    return found;
  }

  private readValue(): TupleValue | undefined {
    const header = this.readHeader();

    switch (header.type) {
      case TYPE_TUPLE:
        return this.readTuple(header);
      case TYPE_VECTOR:
        return this.readVector(header);
      case TYPE_INTEGER:
        return this.readInteger(header);
      case TYPE_STRING:
        return this.readString(header);
      case TYPE_BUFFER:
        return this.readBuffer(header);
      default:
        throw this.corrupt(`value type ${header.type} is unknown`);
    }
  }

  // A reference tuple merges its attributes into the existing tuple.
  private readTuple(header: Header): Tuple {
    let tuple: Tuple;
    if (header.immediate) {
      tuple = new Tuple();
      this.dictionary.push(tuple);
    } else {
      const found = this.lookup(this.readIndex(), 'a tuple reference');
      if (!(found instanceof Tuple)) throw this.corrupt('a tuple reference points at a dictionary entry that is not a tuple');
      tuple = found;
    }

    for (let i = 0; i < header.length; i++) {
      const name = this.readSymbol();
      const value = this.readValue();
      if (value === undefined) tuple.delete(name);
      else tuple.set(name, value);
    }
    return tuple;
  }

  private readSymbol(): string {
    const header = this.readHeader();
    if (header.type !== TYPE_BUFFER) throw this.corrupt(`an attribute name has type ${header.type}, not a symbol`);

    if (header.immediate) {
      const name = utf8Decoder.decode(this.readBytes(header.length));
      this.dictionary.push(new TupleSymbol(name));
      return name;
    }

    const found = this.lookup(header.length, 'an attribute name');
    if (!(found instanceof TupleSymbol)) throw this.corrupt(`attribute name reference ${header.length} points at a tuple or vector`);
    return found.name;
  }

  // A reference vector overwrites elements 0..N-1 of the existing vector.
  private readVector(header: Header): TupleVector {
    let vector: TupleVector;
    if (header.immediate) {
      vector = [];
      this.dictionary.push(vector);
    } else {
      const found = this.lookup(this.readIndex(), 'a vector reference');
      if (!Array.isArray(found)) throw this.corrupt('a vector reference points at a dictionary entry that is not a vector');
      vector = found;
    }

    for (let i = 0; i < header.length; i++) vector[i] = this.readValue();
    return vector;
  }

  private readInteger(header: Header): bigint {
    if (!header.immediate) throw this.corrupt('an integer is encoded as a reference');
    const decoded = readVarint(this.bytes, this.offset, this.context);
    this.offset = decoded.next;
    return header.length > 0 ? -decoded.value : decoded.value;
  }

  private readString(header: Header): TupleValue {
    if (header.immediate) return utf8Decoder.decode(this.readBytes(header.length));
    return this.referencedScalar(header.length);
  }

  // Length 0 means "no value" and deletes the attribute. A single 0x00 byte is `null_value`.
  private readBuffer(header: Header): TupleValue | undefined {
    if (header.length === 0) return undefined;
    if (!header.immediate) return this.referencedScalar(header.length);

    const bytes = this.readBytes(header.length);
    if (bytes.length === 1 && bytes[0] === 0) return NULL_VALUE;
    return bytes;
  }

  private referencedScalar(index: number): TupleValue {
    const found = this.lookup(index, 'a value reference');
    return found instanceof TupleSymbol ? found.name : found;
  }
}
