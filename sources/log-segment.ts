/** Record headers as the bus stores them (frozen, shared with the live record). */
export type Headers = Readonly<Record<string, string>>;

/**
 * Writes one value at `buf[pos..]` and returns the end position, or (like avsc's `Type#encode`) a negative number, minus
 * the bytes missing, when `buf` is too small; it may be called again with a larger buffer. It may throw (invalid value):
 * nothing is appended then.
 */
export type Writer = (buf: Buffer, pos: number) => number;

// Segment sizes. A segment grows by doubling from the first sizes, so a quiet partition holds a few KiB, and is sealed
// (trimmed to its content) at SEGMENT_BYTES of values or SEGMENT_RECORDS records; the record cap keeps key ids in 16 bits.
/** Bytes of values at which a segment is sealed. */
export const SEGMENT_BYTES = 1 << 20;
const SEGMENT_RECORDS = 1 << 16;
/** Value bytes a new segment starts with. */
export const FIRST_BYTES = 4096;
const FIRST_RECORDS = 64;

/**
 * A run of records stored column-wise: the values' Avro bytes back to back in one Buffer, and per record its end in the
 * Buffer, timestamp, publish sequence, key (an index into the segment's few distinct keys) and a removed flag. Offsets
 * are base + index unless the segment was rewritten by compaction (then an explicit column). Typed arrays live outside
 * the JS heap and cost no GC work, unlike an object per record.
 */
export class Segment {
  used = 0;
  n = 0;
  /** Records before this index are removed (advanced lazily at the head). */
  first = 0;
  live = 0;
  liveBytes = 0;
  sealed = false;
  /** Rewritten into other segments by compaction: cursors in it look their offset up again. */
  replaced = false;
  data: Buffer;
  offsets: Float64Array | undefined;
  ends: Uint32Array;
  ts: Float64Array;
  seqs: Float64Array;
  keyIds: Uint16Array;
  removed: Uint8Array;
  readonly keys: string[] = [];
  private keyIndex: Map<string, number> | undefined = new Map();
  headers: Map<number, Headers> | undefined;

  constructor(readonly base: number, bytes: number) {
    this.data = Buffer.allocUnsafeSlow(bytes);
    this.ends = new Uint32Array(FIRST_RECORDS);
    this.ts = new Float64Array(FIRST_RECORDS);
    this.seqs = new Float64Array(FIRST_RECORDS);
    this.keyIds = new Uint16Array(FIRST_RECORDS);
    this.removed = new Uint8Array(FIRST_RECORDS);
  }

  offsetAt(i: number): number {
    return this.offsets ? this.offsets[i]! : this.base + i;
  }

  startAt(i: number): number {
    return i === 0 ? 0 : this.ends[i - 1]!;
  }

  /** Index of the first record with an offset >= `offset` (n when none). */
  indexOf(offset: number): number {
    if (!this.offsets) return Math.min(this.n, Math.max(0, offset - this.base));
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.offsets[mid]! < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Appends a record; returns its size, or -1 when the segment is full (seal it and use a new one). */
  push(offset: number, key: string, timestamp: number, seq: number, headers: Headers | undefined, write: Writer): number {
    const { n } = this;
    if (n === SEGMENT_RECORDS) return -1;
    let end = write(this.data, this.used);
    if (end < 0) {
      const need = this.data.length - end;
      if (n > 0 && need > SEGMENT_BYTES) return -1;
      let size = this.data.length * 2;
      while (size < need) size *= 2;
      const data = Buffer.allocUnsafeSlow(Math.max(need, Math.min(size, SEGMENT_BYTES)));
      this.data.copy(data, 0, 0, this.used);
      this.data = data;
      end = write(this.data, this.used);
      if (end < 0) throw new Error(`writer needs ${-end} more bytes than it asked for`);
    }
    if (n === this.ends.length) this.resize(2 * n);
    if (this.offsets) this.offsets[n] = offset;
    else if (offset !== this.base + n) {
      this.offsets = new Float64Array(this.ends.length);
      for (let i = 0; i < n; i++) this.offsets[i] = this.base + i;
      this.offsets[n] = offset;
    }
    let id = this.keyIndex!.get(key);
    if (id === undefined) {
      id = this.keys.push(key) - 1;
      this.keyIndex!.set(key, id);
    }
    const size = end - this.used;
    this.ends[n] = end;
    this.ts[n] = timestamp;
    this.seqs[n] = seq;
    this.keyIds[n] = id;
    this.removed[n] = 0;
    if (headers) (this.headers ??= new Map()).set(n, headers);
    this.used = end;
    this.n = n + 1;
    this.live++;
    this.liveBytes += size;
    return size;
  }

  /** No more appends: drops the key index and trims the columns and the Buffer to their content. */
  seal(): void {
    this.sealed = true;
    this.keyIndex = undefined;
    if (this.data.length > this.used) {
      const data = Buffer.allocUnsafeSlow(this.used);
      this.data.copy(data, 0, 0, this.used);
      this.data = data;
    }
    if (this.ends.length > this.n) this.resize(this.n);
  }

  private resize(cap: number): void {
    const grow = <A extends Float64Array | Uint32Array | Uint16Array | Uint8Array>(a: A, make: (n: number) => A): A => {
      const b = make(cap);
      b.set(a.subarray(0, Math.min(this.n, cap)));
      return b;
    };
    this.ends = grow(this.ends, (k) => new Uint32Array(k));
    this.ts = grow(this.ts, (k) => new Float64Array(k));
    this.seqs = grow(this.seqs, (k) => new Float64Array(k));
    this.keyIds = grow(this.keyIds, (k) => new Uint16Array(k));
    this.removed = grow(this.removed, (k) => new Uint8Array(k));
    if (this.offsets) this.offsets = grow(this.offsets, (k) => new Float64Array(k));
  }
}
