import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { lastValueFrom, queueScheduler, type Observable, type SchedulerLike } from 'rxjs';
import { reduce } from 'rxjs/operators';
import { FEATURE_NAMES, FEATURE_SET } from '../../operators/features/feature-set.ts';
import { featureVectors } from '../../operators/features/feature-vectors.ts';
import type { Bar } from '../../schemas/bar.ts';
import { forwardReturns, type LabelledVector } from './forward-returns.ts';

/** Options of the dataset export. */
export interface ExportOptions {
  /** Closed, validated bars (any interleaving of instruments; each instrument in time order). */
  readonly bars$: Observable<Bar>;
  /** CSV path; a sidecar `<out>.meta.json` is written beside it. */
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
 * The label is derived from fwd_ret by the trainer; fwd_ret is the only column with future information.
 */
export async function exportDataset(opts: ExportOptions): Promise<ExportSummary> {
  const barMs = opts.intervalMs ?? 60_000;
  mkdirSync(dirname(opts.out), { recursive: true });
  const fd = openSync(opts.out, 'w');
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
            buf += `${datasetLine(row)}\n`;
            if (buf.length >= CHUNK) {
              writeSync(fd, buf);
              buf = '';
            }
            instruments.add(`${row.vector.exchange}:${row.vector.symbol}`);
            fromMs = Math.min(fromMs, row.vector.openTime);
            toMs = Math.max(toMs, row.vector.openTime);
            acc.rows++;
            if (row.fwdRet !== null) acc.labelled++;
            return acc;
          },
          { rows: 0, labelled: 0 },
        ),
      ),
    );
    writeSync(fd, buf);
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
    return summary;
  } finally {
    closeSync(fd);
  }
}
