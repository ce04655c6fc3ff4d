import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { lastValueFrom, queueScheduler, type Observable, type SchedulerLike } from 'rxjs';
import { reduce } from 'rxjs/operators';
import { FEATURE_NAMES, FEATURE_SET, WINDOW_CHANNELS, WINDOW_LENGTH } from '../../operators/features/feature-set.ts';
import { featureVectors } from '../../operators/features/feature-vectors.ts';
import type { Bar } from '../../schemas/bar.ts';
import { forwardReturns, type LabelledVector } from './forward-returns.ts';

/** Options of the dataset export. */
export interface ExportOptions {
  /** Closed, validated bars (any interleaving of instruments; each instrument in time order). */
  readonly bars$: Observable<Bar>;
  /** CSV path; sidecars `<out>.meta.json` and the window `<out>.window.f32` + `<out>.window.json` are written beside it. */
  readonly out: string;
  /** H: the forward return spans this many bars. */
  readonly horizon: number;
  /** Bar interval, ms (default 60000). */
  readonly intervalMs?: number;
  /** Stamps the vectors' tsInit, which the CSV does not carry (default: queueScheduler). */
  readonly scheduler?: SchedulerLike;
}

/** What the export wrote; also the content of the `.meta.json` sidecar the trainer reads. */
export interface ExportSummary {
  readonly file: string;
  readonly featureSet: string;
  readonly features: readonly string[];
  readonly horizon: number;
  readonly barMs: number;
  readonly rows: number;
  /** Rows whose fwd_ret is known. */
  readonly labelled: number;
  /** Instruments `exchange:symbol`, sorted. */
  readonly instruments: readonly string[];
  /** First and last bar open time written, ms. */
  readonly fromMs: number;
  readonly toMs: number;
}

/** What the window sidecar holds (row i of the CSV has window row i); the content of `<csv>.window.json`. */
export interface WindowSidecar {
  readonly file: string;
  readonly dtype: 'float32-le';
  readonly featureSet: string;
  readonly channels: readonly string[];
  readonly length: number;
  readonly rows: number;
}

/** The CSV header: open_time, exchange, symbol, close, the features in order, fwd_ret. */
export const DATASET_HEADER = ['open_time', 'exchange', 'symbol', 'close', ...FEATURE_NAMES, 'fwd_ret'].join(',');

/** One CSV line of a labelled vector; numbers in JavaScript's shortest round-trip form, unknown fwd_ret empty. */
export function datasetLine({ vector: v, fwdRet }: LabelledVector): string {
  return `${v.openTime},${v.exchange},${v.symbol},${v.close},${v.values.join(',')},${fwdRet ?? ''}`;
}

const CHUNK = 1 << 20;

/**
 * Exports a training dataset: bars → featureVectors (the serving operator, so training and serving compute features
 * with the same code) → forward returns over `horizon` bars → CSV `open_time,exchange,symbol,close,<features>,fwd_ret`.
 * The label is derived from fwd_ret by the trainer; fwd_ret is the only column with future information. The window
 * of each row (for the sequence models) goes to the float32 sidecar, in row order.
 */
export async function exportDataset(opts: ExportOptions): Promise<ExportSummary> {
  const barMs = opts.intervalMs ?? 60_000;
  const width = WINDOW_LENGTH * WINDOW_CHANNELS.length;
  mkdirSync(dirname(opts.out), { recursive: true });
  const fd = openSync(opts.out, 'w');
  const wfd = openSync(`${opts.out}.window.f32`, 'w');
  const wbuf = new Float32Array(Math.floor(CHUNK / 4 / width) * width);
  let wfill = 0;
  const flushWindows = (): void => {
    if (wfill > 0) writeSync(wfd, new Uint8Array(wbuf.buffer, 0, wfill * 4));
    wfill = 0;
  };
  let buf = `${DATASET_HEADER}\n`;
  const instruments = new Set<string>();
  let fromMs = Number.POSITIVE_INFINITY;
  let toMs = Number.NEGATIVE_INFINITY;
  try {
    const counts = await lastValueFrom(
      opts.bars$.pipe(
        featureVectors({ scheduler: opts.scheduler ?? queueScheduler, intervalMs: barMs }),
        forwardReturns(opts.horizon, barMs),
        reduce(
          (acc, row) => {
            const v = row.vector;
            if (v.window.length !== width || v.windowLength !== WINDOW_LENGTH || v.windowChannels !== WINDOW_CHANNELS.length) {
              throw new Error(`vector ${v.id}: window ${v.windowLength} x ${v.windowChannels} (${v.window.length} values), expected ${WINDOW_LENGTH} x ${WINDOW_CHANNELS.length}`);
            }
            buf += `${datasetLine(row)}\n`;
            if (buf.length >= CHUNK) {
              writeSync(fd, buf);
              buf = '';
            }
            wbuf.set(v.window, wfill);
            wfill += width;
            if (wfill === wbuf.length) flushWindows();
            instruments.add(`${v.exchange}:${v.symbol}`);
            fromMs = Math.min(fromMs, v.openTime);
            toMs = Math.max(toMs, v.openTime);
            acc.rows++;
            if (row.fwdRet !== null) acc.labelled++;
            return acc;
          },
          { rows: 0, labelled: 0 },
        ),
      ),
    );
    writeSync(fd, buf);
    flushWindows();
    const summary: ExportSummary = {
      file: opts.out,
      featureSet: FEATURE_SET,
      features: FEATURE_NAMES,
      horizon: opts.horizon,
      barMs,
      rows: counts.rows,
      labelled: counts.labelled,
      instruments: [...instruments].sort(),
      fromMs: counts.rows > 0 ? fromMs : 0,
      toMs: counts.rows > 0 ? toMs : 0,
    };
    writeFileSync(`${opts.out}.meta.json`, `${JSON.stringify(summary, null, 2)}\n`);
    const sidecar: WindowSidecar = {
      file: `${opts.out}.window.f32`,
      dtype: 'float32-le',
      featureSet: FEATURE_SET,
      channels: WINDOW_CHANNELS,
      length: WINDOW_LENGTH,
      rows: counts.rows,
    };
    writeFileSync(`${opts.out}.window.json`, `${JSON.stringify(sidecar, null, 2)}\n`);
    return summary;
  } finally {
    closeSync(fd);
    closeSync(wfd);
  }
}
