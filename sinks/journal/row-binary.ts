import type { Row } from './rows.ts';

/**
 * RowBinary encoding of journal rows, for inserts into chdb (ClickHouse's native row format: no number printing in
 * JavaScript, no text parsing in the engine). Measured on 10,000 feature vectors (10 values and a 96-value window):
 * JSONCompactEachRow 150 ms to serialise + 200 ms engine time, RowBinary 40 ms + 28 ms (see also insert-bench.ts, and
 * bench/journal-insert.ts for the journal end to end).
 *
 * The encoding stores exactly what the JSONCompactEachRow insert of the same row stores, or refuses: every value is
 * checked against what its column's JSON insert would do, and anything the binary form could store differently (a
 * string with a lone surrogate, which the JSON insert rejects; a time or integer that is not an integer; a value of
 * an unexpected type) throws Unencodable, so the caller inserts that batch as JSON and ClickHouse decides as before.
 * Doubles: JavaScript prints the shortest text that reads back to the same double, and ClickHouse parses it precisely
 * (`precise_float_parsing`), so the bits are the same, except -0, which JSON prints as `0` (stored here as +0), and
 * the quoted `nan`, `inf`, `-inf` of rows.ts, which ClickHouse reads as the canonical NaN and the infinities (a bare
 * NaN would be JSON's `null`: refused). Integers beyond 2^53 are stored as JSON prints them (see encodeInt64).
 */

/** A value a column's binary encoding cannot store exactly as its JSON insert would: insert the batch as JSON. */
export class Unencodable extends Error {
  override readonly name = 'Unencodable';
}

const UNENCODABLE = new Unencodable('not encodable as RowBinary');

/** A growable byte buffer with little-endian writers. */
export class BinaryWriter {
  buf: Buffer;
  view: DataView;
  pos = 0;

  constructor(capacity = 1 << 16) {
    this.buf = Buffer.allocUnsafe(capacity);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  /** The bytes written so far (a view, not a copy). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /** One byte (a null flag, a Bool). */
  u8(x: number): void {
    this.ensure(1);
    this.buf[this.pos++] = x;
  }

  /** Unsigned LEB128, the length prefix of strings and arrays. */
  varint(x: number): void {
    this.ensure(10);
    while (x >= 0x80) {
      this.buf[this.pos++] = (x & 0x7f) | 0x80;
      x = Math.floor(x / 128);
    }
    this.buf[this.pos++] = x;
  }

  /** A Float64. */
  f64(x: number): void {
    this.ensure(8);
    // JSON prints -0 as 0: store +0 like the JSON insert does.
    this.view.setFloat64(this.pos, x === 0 ? 0 : x, true);
    this.pos += 8;
  }

  /** A safe integer as Int64. */
  i64(x: number): void {
    this.ensure(8);
    const hi = Math.floor(x / 4294967296);
    this.view.setUint32(this.pos, x - hi * 4294967296, true);
    this.view.setInt32(this.pos + 4, hi, true);
    this.pos += 8;
  }

  /** An Int32. */
  i32(x: number): void {
    this.ensure(4);
    this.view.setInt32(this.pos, x, true);
    this.pos += 4;
  }

  /** A UInt16. */
  u16(x: number): void {
    this.ensure(2);
    this.view.setUint16(this.pos, x, true);
    this.pos += 2;
  }

  /** A string as UTF-8 with its length; Unencodable for a lone surrogate (the JSON insert rejects those). */
  str(s: string): void {
    const n = s.length;
    if (n < 128) {
      // Most strings are short ASCII (ids, symbols, enums): copied char by char, no native call.
      this.ensure(n + 1);
      const buf = this.buf;
      let p = this.pos + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p++] = c;
      }
      if (i === n) {
        buf[this.pos] = n;
        this.pos = p;
        return;
      }
    }
    if (LONE_SURROGATE.test(s)) throw UNENCODABLE;
    const bytes = Buffer.byteLength(s, 'utf8');
    this.varint(bytes);
    this.ensure(bytes);
    this.pos += this.buf.write(s, this.pos, bytes, 'utf8');
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Writes one value of a column. */
export type ValueEncoder = (w: BinaryWriter, v: unknown) => void;

const NON_FINITE: Readonly<Record<string, number>> = { nan: NaN, inf: Infinity, '-inf': -Infinity };

const encodeString: ValueEncoder = (w, v) => {
  if (typeof v !== 'string') throw UNENCODABLE;
  w.str(v);
};

// A non-finite number (not the quoted strings) would be JSON's `null`: refused, so the JSON insert decides as before.
const encodeFloat64: ValueEncoder = (w, v) => {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw UNENCODABLE;
    return w.f64(v);
  }
  // rows.ts writes non-finite doubles as these strings (JSON has no NaN).
  const x = typeof v === 'string' ? NON_FINITE[v] : undefined;
  if (x === undefined) throw UNENCODABLE;
  w.f64(x);
};

// The widest column (feature windows): one bounds check per array instead of one per element.
const encodeFloat64Array: ValueEncoder = (w, v) => {
  if (!Array.isArray(v)) throw UNENCODABLE;
  const n = v.length;
  w.varint(n);
  w.ensure(8 * n);
  const view = w.view;
  let p = w.pos;
  for (let i = 0; i < n; i++) {
    const x: unknown = v[i];
    if (typeof x === 'number') {
      if (!Number.isFinite(x)) throw UNENCODABLE;
      view.setFloat64(p, x === 0 ? 0 : x, true);
    } else {
      const y = typeof x === 'string' ? NON_FINITE[x] : undefined;
      if (y === undefined) throw UNENCODABLE;
      view.setFloat64(p, y, true);
    }
    p += 8;
  }
  w.pos = p;
};

function integer(min: number, max: number, write: (w: BinaryWriter, x: number) => void): ValueEncoder {
  return (w, v) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw UNENCODABLE;
    write(w, v);
  };
}

// An integer beyond 2^53 is stored as JSON prints it, which is the shortest decimal that reads back to the same double
// (2^60 prints as 1152921504606847000, not ...976), and ClickHouse reads that decimal exactly: store that integer.
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const encodeInt64: ValueEncoder = (w, v) => {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw UNENCODABLE;
  if (Number.isSafeInteger(v)) return w.i64(v);
  const printed = JSON.stringify(v);
  if (!/^-?\d+$/.test(printed)) throw UNENCODABLE;
  const big = BigInt(printed);
  if (big < INT64_MIN || big > INT64_MAX) throw UNENCODABLE;
  w.ensure(8);
  w.view.setBigInt64(w.pos, big, true);
  w.pos += 8;
};

// Times are ms since the epoch, far inside the safe integers; anything else is left to the JSON insert.
const encodeTime: ValueEncoder = (w, v) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw UNENCODABLE;
  w.i64(v);
};

const encodeBool: ValueEncoder = (w, v) => {
  if (typeof v !== 'boolean') throw UNENCODABLE;
  w.u8(v ? 1 : 0);
};

function unwrap(type: string, wrapper: string): string | undefined {
  return type.startsWith(`${wrapper}(`) && type.endsWith(')') ? type.slice(wrapper.length + 1, -1) : undefined;
}

/**
 * The encoder of a ClickHouse column type, for the types the journal DDL uses (String, LowCardinality, Nullable,
 * Array, Int32, Int64, UInt16, Float64, Bool, DateTime64); undefined for any other type (the table is then inserted as
 * JSON).
 */
export function encoderFor(type: string): ValueEncoder | undefined {
  const t = type.trim();
  const lc = unwrap(t, 'LowCardinality');
  // LowCardinality changes the storage, not the RowBinary form: that of the inner type.
  if (lc !== undefined) return encoderFor(lc);
  const nullable = unwrap(t, 'Nullable');
  if (nullable !== undefined) {
    const inner = encoderFor(nullable);
    if (!inner) return undefined;
    return (w, v) => {
      if (v === null) return w.u8(1);
      w.u8(0);
      inner(w, v);
    };
  }
  const array = unwrap(t, 'Array');
  if (array === 'Float64') return encodeFloat64Array;
  if (array !== undefined) {
    const inner = encoderFor(array);
    if (!inner) return undefined;
    return (w, v) => {
      if (!Array.isArray(v)) throw UNENCODABLE;
      w.varint(v.length);
      for (let i = 0; i < v.length; i++) inner(w, v[i]);
    };
  }
  // A JSON integer is read as ticks of the column's precision, out of range or not: the Int64 RowBinary carries.
  if (/^DateTime64\(\s*\d+\s*(,\s*'[^']*'\s*)?\)$/.test(t)) return encodeTime;
  switch (t) {
    case 'String':
      return encodeString;
    case 'Float64':
      return encodeFloat64;
    case 'Int64':
      return encodeInt64;
    case 'Int32':
      return integer(-(2 ** 31), 2 ** 31 - 1, (w, x) => w.i32(x));
    case 'UInt16':
      return integer(0, 65535, (w, x) => w.u16(x));
    case 'Bool':
      return encodeBool;
    default:
      return undefined;
  }
}

/** Encodes whole rows of a table; built from the types of the inserted columns, in insert order. */
export type RowsEncoder = (rows: readonly Row[], w: BinaryWriter) => void;

/** The rows encoder for columns of these ClickHouse types; undefined when a type has no binary encoder here. */
export function rowsEncoderFor(types: readonly string[]): RowsEncoder | undefined {
  const encoders: ValueEncoder[] = [];
  for (const t of types) {
    const e = encoderFor(t);
    if (!e) return undefined;
    encoders.push(e);
  }
  const n = encoders.length;
  return (rows, w) => {
    for (const row of rows) {
      if (row.length !== n) throw UNENCODABLE;
      for (let i = 0; i < n; i++) encoders[i]!(w, row[i]);
    }
  };
}
