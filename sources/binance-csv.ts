/**
 * Reads Binance public-data CSV files (klines and trades, plain or gzip, files or folders) as source records, streamed
 * chunk by chunk (never a whole file in memory) and merged across files in event-time order.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Observable } from 'rxjs';
import type { Bar } from '../schemas/bar.ts';
import type { SourceRecord } from '../schemas/source-record.ts';
import type { Trade } from '../schemas/trade.ts';
import { describeDataFile, klineRecord, tradeRecord, type DataFileInfo, type DataFileKind, type NamingOptions } from './binance-csv-rows.ts';
import { fileTimeSpan, mergeFiles, SourceFileError, type StreamOptions } from './binance-csv-stream.ts';
import { matchesInstrument } from './symbols.ts';

export { describeDataFile, detectFileKind, type DataFileInfo, type DataFileKind } from './binance-csv-rows.ts';
export { SourceFileError } from './binance-csv-stream.ts';

/** Options of the CSV readers. */
export interface ReadCsvOptions extends NamingOptions, StreamOptions {
  /** Keeps only these instruments: Binance ids (BTCUSDT), unified symbols (BTC/USDT) or bus keys. */
  readonly symbols?: Iterable<string>;
  /** Kline interval to read (default 1m); kline files of other intervals in a folder are left out. */
  readonly interval?: string;
}

const DATA_FILE = /\.csv(\.gz)?$/i;

async function statOrThrow(p: string): Promise<Awaited<ReturnType<typeof stat>>> {
  try {
    return await stat(p);
  } catch (e) {
    throw new SourceFileError(p, 'NOT_FOUND', 'no such file or folder', { cause: e });
  }
}

async function walk(dir: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await walk(p, out);
    else if (DATA_FILE.test(e.name)) out.push(p);
  }
}

/**
 * The *.csv and *.csv.gz files under the given files and folders (recursively), sorted by path and without
 * duplicates. A missing path is an error.
 */
export async function listDataFiles(paths: string | readonly string[]): Promise<string[]> {
  const found = new Set<string>();
  for (const p of typeof paths === 'string' ? [paths] : paths) {
    const s = await statOrThrow(p);
    if (s.isDirectory()) {
      const out: string[] = [];
      await walk(p, out);
      for (const f of out) found.add(f);
    } else {
      found.add(p);
    }
  }
  return [...found].sort();
}

/** The data files under the paths that fit the options, by kind; explicit files must be kline or trade files. */
async function selectAll(paths: string | readonly string[], opts: ReadCsvOptions, want?: DataFileKind): Promise<{ klines: DataFileInfo[]; trades: DataFileInfo[] }> {
  const explicit = new Set<string>();
  for (const p of typeof paths === 'string' ? [paths] : paths) if ((await statOrThrow(p)).isFile()) explicit.add(p);
  const wanted = opts.symbols ? [...opts.symbols] : [];
  const interval = opts.interval ?? '1m';
  const out = { klines: [] as DataFileInfo[], trades: [] as DataFileInfo[] };
  for (const path of await listDataFiles(paths)) {
    const info = describeDataFile(path, opts);
    const fits = info !== null && (want === undefined || info.kind === want) && (info.kind === 'trades' || info.interval === interval);
    if (!fits) {
      if (explicit.has(path)) {
        const what = want === 'trades' ? 'trade' : want === 'klines' ? `${interval} kline` : `${interval} kline or trade`;
        throw new SourceFileError(path, 'NOT_A_DATA_FILE', `not a Binance ${what} file`);
      }
      continue;
    }
    if (wanted.length > 0 && !wanted.some((w) => matchesInstrument(w, info.binanceId, info))) continue;
    // Names with dates promise a span; skip files wholly outside [fromMs, toMs).
    if (info.toMs !== undefined && opts.fromMs !== undefined && info.toMs <= opts.fromMs) continue;
    if (info.fromMs !== undefined && opts.toMs !== undefined && info.fromMs >= opts.toMs) continue;
    out[info.kind].push(info);
  }
  return out;
}

/**
 * The files the readers would read for a kind and options, with what their names say (instrument, interval, span).
 * Files named explicitly must be of the kind; files found in folders that are not are skipped. An empty symbols list
 * keeps every instrument.
 */
export async function selectDataFiles(paths: string | readonly string[], kind: DataFileKind, opts: ReadCsvOptions = {}): Promise<DataFileInfo[]> {
  return (await selectAll(paths, opts, kind))[kind];
}

/** Kline files as batches of Bar records in event-time order: the fast path for replays and benchmarks. */
export async function* klineBatches(paths: string | readonly string[], opts: ReadCsvOptions = {}): AsyncGenerator<SourceRecord<Bar>[]> {
  yield* mergeFiles(await selectDataFiles(paths, 'klines', opts), klineRecord, opts);
}

/** Trade files as batches of Trade records in event-time order: the fast path for replays and benchmarks. */
export async function* tradeBatches(paths: string | readonly string[], opts: ReadCsvOptions = {}): AsyncGenerator<SourceRecord<Trade>[]> {
  yield* mergeFiles(await selectDataFiles(paths, 'trades', opts), tradeRecord, opts);
}

function fromBatches<T>(make: () => AsyncGenerator<SourceRecord<T>[]>): Observable<SourceRecord<T>> {
  return new Observable<SourceRecord<T>>((sub) => {
    const it = make();
    let stopped = false;
    void (async () => {
      try {
        for (;;) {
          const r = await it.next();
          if (r.done || stopped) break;
          for (const rec of r.value) {
            if (sub.closed) return;
            sub.next(rec);
          }
        }
        sub.complete();
      } catch (e) {
        sub.error(e);
      }
    })();
    return () => {
      stopped = true;
      void it.return(undefined).catch(() => undefined);
    };
  });
}

/** Kline files (12-column rows) as Bar source records, merged in event-time order (ties: symbol, then file). */
export function readKlineFiles(paths: string | readonly string[], opts: ReadCsvOptions = {}): Observable<SourceRecord<Bar>> {
  return fromBatches(() => klineBatches(paths, opts));
}

/** Trade files (6- or 7-column rows) as Trade source records, merged in event-time order (ties: symbol, then file). */
export function readTradeFiles(paths: string | readonly string[], opts: ReadCsvOptions = {}): Observable<SourceRecord<Trade>> {
  return fromBatches(() => tradeBatches(paths, opts));
}

/** One record of an opened data set with the event time it replays at. */
export type DataFileItem =
  | { readonly kind: 'trade'; readonly tsEvent: number; readonly record: SourceRecord<Trade> }
  | { readonly kind: 'bar'; readonly tsEvent: number; readonly record: SourceRecord<Bar> };

/** A set of data files ready to replay: what they hold, their span and instruments, and their records in order. */
export interface DataFileSet {
  /** The kind of every file, or 'mixed' when kline and trade files were both found (chunks() then fails). */
  readonly kind: DataFileKind | 'mixed';
  readonly files: readonly DataFileInfo[];
  /** Start of the span, ms: the given fromMs, else the earliest row time (klines: open time). */
  readonly fromMs: number;
  /** End of the span, ms (exclusive): the given toMs, else the last row time + 1 (klines: its close time). */
  readonly toMs: number;
  /** Instruments of the files, as bus keys `exchange:symbol`. */
  readonly instruments: ReadonlySet<string>;
  /** The records in event-time order, in chunks; a record without a time replays at the time of the one before it. */
  chunks(): AsyncIterable<readonly DataFileItem[]>;
}

/**
 * Opens Binance kline or trade files for a replay: selects them (symbols, interval, time range), reads the first and
 * last row times where the span is not given, and streams their merged records on demand. Fails with SourceFileError
 * when nothing matches or nothing is left in the span.
 */
export async function openDataFiles(paths: string | readonly string[], opts: ReadCsvOptions = {}): Promise<DataFileSet> {
  const where = typeof paths === 'string' ? paths : paths.join(', ');
  const sel = await selectAll(paths, opts);
  let files = [...sel.klines, ...sel.trades];
  if (files.length === 0) throw new SourceFileError(where, 'EMPTY', 'no Binance kline or trade files match');
  let fromMs = opts.fromMs ?? Infinity;
  let toMs = opts.toMs ?? -Infinity;
  if (opts.fromMs === undefined || opts.toMs === undefined) {
    const kept: DataFileInfo[] = [];
    for (const f of files) {
      const span = await fileTimeSpan(f);
      if (!span) continue;
      const end = span.last + (f.intervalMs ?? 1);
      if ((opts.fromMs !== undefined && end <= opts.fromMs) || (opts.toMs !== undefined && span.first >= opts.toMs)) continue;
      if (opts.fromMs === undefined) fromMs = Math.min(fromMs, span.first);
      if (opts.toMs === undefined) toMs = Math.max(toMs, end);
      kept.push(f);
    }
    files = kept;
  }
  if (files.length === 0 || !(toMs > fromMs)) throw new SourceFileError(where, 'EMPTY', 'no rows in the requested span');
  const kinds = new Set(files.map((f) => f.kind));
  const kind = kinds.size > 1 ? 'mixed' : files[0]!.kind;
  const chosen = files;
  return {
    kind,
    files: chosen,
    fromMs,
    toMs,
    instruments: new Set(chosen.map((f) => `${f.exchange}:${f.symbol}`)),
    async *chunks() {
      if (kind === 'mixed') throw new SourceFileError(where, 'NOT_A_DATA_FILE', 'kline and trade files are mixed; read one kind at a time');
      let last = fromMs;
      const at = (t: number | undefined): number => (typeof t === 'number' && Number.isFinite(t) ? (last = t) : last);
      if (kind === 'klines') {
        for await (const b of mergeFiles(chosen, klineRecord, opts)) yield b.map((record) => ({ kind: 'bar' as const, tsEvent: at(record.value?.tsEvent), record }));
      } else {
        for await (const b of mergeFiles(chosen, tradeRecord, opts)) yield b.map((record) => ({ kind: 'trade' as const, tsEvent: at(record.value?.tsEvent), record }));
      }
    },
  };
}
