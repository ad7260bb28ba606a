// The value model of TFS metadata, as Nanos's src/runtime/tuple.c encodes it:
// tuples (attribute name -> value), vectors, strings, integers and untyped
// buffers. Attribute names are TFS symbols.

/** The kernel's `null_value`: a flag value encoded as a one-byte buffer holding 0x00. */
export const NULL_VALUE: unique symbol = Symbol('null_value');

/**
 * One TFS value. `bigint` is an integer (type 3), `string` a UTF-8 string
 * (type 4) and `Uint8Array` an untyped buffer (type 0), which only version 4
 * logs and old writers use for scalars.
 */
export type TupleValue = Tuple | TupleVector | string | bigint | Uint8Array | typeof NULL_VALUE;

/** A vector. An `undefined` element is encoded as the empty buffer that means "no value". */
export type TupleVector = Array<TupleValue | undefined>;

/**
 * A tuple: attribute name to value. The map's insertion order is the order in
 * which the encoder writes the attributes, so building a tuple fixes its bytes.
 */
export class Tuple {
  readonly attributes: Map<string, TupleValue>;

  constructor(attributes?: Iterable<readonly [string, TupleValue]>) {
    this.attributes = new Map(attributes);
  }

  get size(): number {
    return this.attributes.size;
  }

  get(name: string): TupleValue | undefined {
    return this.attributes.get(name);
  }

  set(name: string, value: TupleValue): void {
    this.attributes.set(name, value);
  }

  delete(name: string): void {
    this.attributes.delete(name);
  }
}

export function isTuple(value: unknown): value is Tuple {
  return value instanceof Tuple;
}

export function isVector(value: unknown): value is TupleVector {
  return Array.isArray(value);
}

const utf8Decoder = new TextDecoder('utf-8');

/**
 * Returns a scalar as text: strings as they are, integers in decimal and
 * untyped buffers decoded as UTF-8. Returns undefined for tuples, vectors and
 * the null value.
 */
export function scalarText(value: TupleValue | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint') return value.toString(10);
  if (value instanceof Uint8Array) return utf8Decoder.decode(value);
  return undefined;
}
