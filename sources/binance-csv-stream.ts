/**
 * The streaming core of the Binance CSV reader: a file's rows in record batches (gunzipped and decoded chunk by chunk,
 * never the whole file in memory) and a k-way merge of many files by event time.
 */
import { MergeHeap } from './merge-heap.ts';
import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { SourceRecord } from '../schemas/source-record.ts';
import { isHeader, num, toMs, type DataFileInfo, type RowContext } from './binance-csv-rows.ts';

/** Raised when a data file or folder cannot be found, read or used, or holds nothing to read. */
export class SourceFileError extends Error {
  override readonly name = 'SourceFileError';
  readonly retriable = false;
  constructor(
    readonly path: string,
    readonly reason: 'NOT_FOUND' | 'NOT_A_DATA_FILE' | 'READ_FAILED' | 'EMPTY',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${path}: ${message}`, options);
  }
}

/** What the streaming core needs of the reader options. */
export interface StreamOptions {
  /** Keeps rows at or after this time, ms (klines: open time; trades: trade time). */
  readonly fromMs?: number;
  /** Keeps rows before this time, ms. */
  readonly toMs?: number;
  /** Rows of a file are in time order (true for Binance dumps): stop reading a file at toMs. Default true. */
  readonly sortedFiles?: boolean;
  /** Records per batch of the merged stream (default 4096). */
  readonly batchSize?: number;
}

// No Binance row comes near this; a file without newlines is not CSV and must not fill memory.
const MAX_LINE = 1 << 20;

/** The decoded text of a file in chunks, gunzipped when its name ends in .gz. */
export function openText(path: string): Readable {
  const raw = createReadStream(path, { highWaterMark: 1 << 16 });
  if (!/\.gz$/i.test(path)) {
    raw.setEncoding('utf8');
    return raw;
  }
  const gunzip = createGunzip({ chunkSize: 1 << 16 });
  raw.on('error', (e) => gunzip.destroy(e));
  gunzip.on('close', () => raw.destroy());
  raw.pipe(gunzip);
  gunzip.setEncoding('utf8');
  return gunzip;
}

/** One batch of a file's records with the event time each is merged by. */
export interface Batch<T> {
  readonly recs: SourceRecord<T>[];
  readonly times: number[];
}

/** Parses one row of a file (see binance-csv-rows.ts). */
export type RowParser<T> = (fields: readonly string[], time: number, ctx: RowContext, offset: number, raw: string) => SourceRecord<T>;

/** Streams one file's rows as record batches, filtered by time; unparsable rows come out as MALFORMED records. */
export async function* fileBatches<T>(info: DataFileInfo, parse: RowParser<T>, opts: StreamOptions): AsyncGenerator<Batch<T>> {
  const timeCol = info.kind === 'klines' ? 0 : 4;
  // The source name goes into dead-letter ids: the absolute path, so a file gives the same ids however it was named.
  const ctx: RowContext = { source: `csv:${resolve(info.path)}`, exchange: info.exchange, symbol: info.symbol, interval: info.interval ?? '', intervalMs: info.intervalMs ?? 0 };
  // Bars are merged by close time (their tsEvent), trades by trade time.
  const shift = info.intervalMs ?? 0;
  const from = opts.fromMs ?? -Infinity;
  const to = opts.toMs ?? Infinity;
  const sorted = opts.sortedFiles ?? true;
  let lastTime = -Infinity;
  let lineNo = 0;
  let sawData = false;
  let rest = '';
  const stream = openText(info.path);
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      const text = rest + chunk;
      let start = 0;
      let recs: SourceRecord<T>[] = [];
      let times: number[] = [];
      for (;;) {
        const nl = text.indexOf('\n', start);
        if (nl < 0) break;
        lineNo++;
        let line = text.slice(start, nl);
        start = nl + 1;
        if (line.endsWith('\r')) line = line.slice(0, -1);
        if (line.length === 0) continue;
        const fields = line.split(',');
        if (!sawData) {
          sawData = true;
          if (isHeader(fields)) continue;
        }
        const t = toMs(num(fields[timeCol]));
        if (t < from) continue;
        if (t >= to && t !== Infinity) {
          if (sorted) {
            if (recs.length > 0) yield { recs, times };
            return;
          }
          continue;
        }
        // A row without a usable time keeps its place in its file: it merges at the time of the row before it.
        if (Number.isFinite(t)) lastTime = t + shift;
        recs.push(parse(fields, t, ctx, lineNo, line));
        times.push(lastTime);
      }
      rest = text.slice(start);
      if (rest.length > MAX_LINE) throw new SourceFileError(info.path, 'READ_FAILED', `line ${lineNo + 1} is longer than ${MAX_LINE} characters`);
      if (recs.length > 0) {
        yield { recs, times };
        recs = [];
        times = [];
      }
    }
    if (rest.length > 0 && rest !== '\r') {
      lineNo++;
      const line = rest.endsWith('\r') ? rest.slice(0, -1) : rest;
      const fields = line.split(',');
      const t = toMs(num(fields[timeCol]));
      if (!(!sawData && isHeader(fields)) && !(t < from) && !(t >= to && t !== Infinity)) {
        if (Number.isFinite(t)) lastTime = t + shift;
        yield { recs: [parse(fields, t, ctx, lineNo, line)], times: [lastTime] };
      }
    }
  } catch (e) {
    throw e instanceof SourceFileError ? e : new SourceFileError(info.path, 'READ_FAILED', e instanceof Error ? e.message : String(e), { cause: e });
  } finally {
    stream.destroy();
  }
}

/** Files of one instrument whose dated names do not overlap are read one after the other instead of merged. */
async function* chained<T>(infos: readonly DataFileInfo[], parse: RowParser<T>, opts: StreamOptions): AsyncGenerator<Batch<T>> {
  for (const info of infos) yield* fileBatches(info, parse, opts);
}

function chains(files: readonly DataFileInfo[]): DataFileInfo[][] {
  const bySymbol = new Map<string, DataFileInfo[]>();
  const order: DataFileInfo[][] = [];
  for (const f of files) {
    const key = `${f.symbol}\u0000${f.exchange}`;
    const group = bySymbol.get(key);
    if (group) group.push(f);
    else bySymbol.set(key, [f]);
  }
  // Ties in the merge go by symbol, then by file order: rank the chains that way.
  const keys = [...bySymbol.keys()].sort();
  for (const key of keys) {
    const group = [...bySymbol.get(key)!].sort((a, b) => (a.fromMs ?? -Infinity) - (b.fromMs ?? -Infinity) || (a.path < b.path ? -1 : 1));
    let cur: DataFileInfo[] = [];
    for (const f of group) {
      const prev = cur.at(-1);
      if (prev && (prev.toMs === undefined || f.fromMs === undefined || f.fromMs < prev.toMs)) {
        order.push(cur);
        cur = [];
      }
      cur.push(f);
    }
    if (cur.length > 0) order.push(cur);
  }
  return order;
}

interface Cursor<T> {
  readonly it: AsyncIterator<Batch<T>>;
  readonly rank: number;
  recs: SourceRecord<T>[];
  times: number[];
  i: number;
  /** Merge time of the head record, cached for the heap. */
  t: number;
}

function before<T>(a: Cursor<T>, b: Cursor<T>): boolean {
  return a.t < b.t || (a.t === b.t && a.rank < b.rank);
}

/** The next non-empty batch of an iterator, or null at its end. */
async function nextBatch<T>(it: AsyncIterator<Batch<T>>): Promise<Batch<T> | null> {
  for (;;) {
    const r = await it.next();
    if (r.done) return null;
    if (r.value.recs.length > 0) return r.value;
  }
}

/** K-way merge of the chains' batches by (time, rank); rank follows symbol, then file order. */
export async function* mergeFiles<T>(files: readonly DataFileInfo[], parse: RowParser<T>, opts: StreamOptions): AsyncGenerator<SourceRecord<T>[]> {
  const groups = chains(files);
  const iters = groups.map((g) => chained(g, parse, opts));
  try {
    if (iters.length === 1) {
      for await (const b of iters[0]!) yield b.recs;
      return;
    }
    const size = opts.batchSize ?? 4096;
    const firsts = await Promise.all(iters.map((it) => nextBatch(it)));
    const cursors: Cursor<T>[] = [];
    firsts.forEach((b, rank) => {
      if (b) cursors.push({ it: iters[rank]!, rank, recs: b.recs, times: b.times, i: 0, t: b.times[0]! });
    });
    const heap = new MergeHeap(cursors, before);
    let out: SourceRecord<T>[] = [];
    for (let c = heap.top(); c !== undefined; c = heap.top()) {
      out.push(c.recs[c.i]!);
      if (++c.i < c.recs.length) {
        c.t = c.times[c.i]!;
        heap.topChanged();
      } else {
        const b = await nextBatch(c.it);
        if (b) {
          c.recs = b.recs;
          c.times = b.times;
          c.i = 0;
          c.t = b.times[0]!;
          heap.topChanged();
        } else heap.removeTop();
      }
      if (out.length >= size) {
        yield out;
        out = [];
      }
    }
    if (out.length > 0) yield out;
  } finally {
    await Promise.all(iters.map((it) => it.return(undefined)));
  }
}


/**
 * The row times (klines: open time; trades: trade time) of a file's first and last data rows, read without parsing
 * the rows between; null when the file has no row with a readable time.
 */
export async function fileTimeSpan(info: DataFileInfo): Promise<{ first: number; last: number } | null> {
  const timeCol = info.kind === 'klines' ? 0 : 4;
  const timeOf = (line: string): number => toMs(num(line.split(',', timeCol + 1)[timeCol]));
  let first = Number.NaN;
  let last = Number.NaN;
  let rest = '';
  const stream = openText(info.path);
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      const text = rest + chunk;
      const end = text.lastIndexOf('\n');
      if (end < 0) {
        rest = text;
        continue;
      }
      if (Number.isNaN(first)) {
        for (const line of text.slice(0, end).split('\n')) {
          first = timeOf(line);
          if (Number.isFinite(first)) break;
        }
      }
      // Only the last complete line of each chunk can be the file's last row.
      const prevEnd = text.lastIndexOf('\n', end - 1);
      const t = timeOf(text.slice(prevEnd + 1, end));
      if (Number.isFinite(t)) last = t;
      rest = text.slice(end + 1);
      if (rest.length > MAX_LINE) throw new SourceFileError(info.path, 'READ_FAILED', `a line is longer than ${MAX_LINE} characters`);
    }
    const t = timeOf(rest.trim());
    if (Number.isFinite(t)) {
      last = t;
      if (Number.isNaN(first)) first = t;
    }
  } catch (e) {
    throw e instanceof SourceFileError ? e : new SourceFileError(info.path, 'READ_FAILED', e instanceof Error ? e.message : String(e), { cause: e });
  } finally {
    stream.destroy();
  }
  return Number.isFinite(first) && Number.isFinite(last) ? { first, last } : null;
}
