import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { lastValueFrom, queueScheduler, type Observable, type SchedulerLike } from 'rxjs';
import { reduce } from 'rxjs/operators';
import { DEFAULT_LABEL, labelOf, type ClassIndex, type LabelSpec } from '../../operators/ensemble/scoring.ts';
import { FEATURE_NAMES, FEATURE_SET, WINDOW_CHANNELS, WINDOW_LENGTH } from '../../operators/features/feature-set.ts';
import { featureVectors } from '../../operators/features/feature-vectors.ts';
import type { Bar } from '../../schemas/bar.ts';
import { forwardReturns, type LabelledVector } from './forward-returns.ts';
import { walkForwardSplits, type WalkForwardSplits } from './splits.ts';

/** Options of the dataset export. */
export interface ExportOptions {
  /** Closed, validated bars (any interleaving of instruments; each instrument in time order). */
  readonly bars$: Observable<Bar>;
  /**
   * CSV path; sidecars `<out>.meta.json`, the window `<out>.window.f32` + `<out>.window.json` and, with `splits`,
   * `<out>.splits.json` are written beside it.
   */
  readonly out: string;
  /** H: the forward return spans this many bars. */
  readonly horizon: number;
  /** k of the label's neutral band k * rvol_30 * sqrt(H) (default 0.5, DEFAULT_LABEL.k). */
  readonly labelK?: number;
  /** Walk-forward splits over the labelled rows (pipelines/dataset/splits.ts); none when absent. */
  readonly splits?: { readonly folds: number; readonly purgeBars: number; readonly embargoBars: number };
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
  /** The definition of the `label` column. */
  readonly label: LabelSpec;
  readonly rows: number;
  /** Rows with a label (fwd_ret known; rvol_30 is finite once a vector exists). */
  readonly labelled: number;
  /** Labelled rows per class: DOWN, FLAT, UP. */
  readonly classCounts: readonly [number, number, number];
  /** Instruments `exchange:symbol`, sorted. */
  readonly instruments: readonly string[];
  /** First and last bar open time written, ms. */
  readonly fromMs: number;
  readonly toMs: number;
  /** The splits sidecar (`<out>.splits.json`) when splits were asked for. */
  readonly splitsFile?: string;
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

/** The CSV header: open_time, exchange, symbol, close, the features in order, fwd_ret, label. */
export const DATASET_HEADER = ['open_time', 'exchange', 'symbol', 'close', ...FEATURE_NAMES, 'fwd_ret', 'label'].join(',');

const VOL = FEATURE_NAMES.indexOf(DEFAULT_LABEL.volFeature);

/** The label of a row: labelOf(fwd_ret, rvol_30) by the spec, null when fwd_ret (or the volatility) is unknown. */
export function rowLabel({ vector: v, fwdRet }: LabelledVector, spec: Pick<LabelSpec, 'horizonBars' | 'k'>): ClassIndex | null {
  const vol = v.values[VOL];
  if (fwdRet === null || vol === undefined || !Number.isFinite(vol)) return null;
  return labelOf(fwdRet, vol, spec);
}

/**
 * One CSV line of a labelled vector; numbers in JavaScript's shortest round-trip form, unknown fwd_ret and label
 * empty.
 */
export function datasetLine(row: LabelledVector, label: ClassIndex | null): string {
  const v = row.vector;
  return `${v.openTime},${v.exchange},${v.symbol},${v.close},${v.values.join(',')},${row.fwdRet ?? ''},${label ?? ''}`;
}

const CHUNK = 1 << 20;

/**
 * Exports a training dataset: bars → featureVectors (the serving operator, so training and serving compute features
 * with the same code) → forward returns over `horizon` bars → CSV
 * `open_time,exchange,symbol,close,<features>,fwd_ret,label`. fwd_ret and label are the only columns with future
 * information. The window of each row (for the sequence models) goes to the float32 sidecar, in row order; with
 * `splits`, the walk-forward folds over the labelled rows go to `<out>.splits.json`.
 *
 * The label is written here, by `labelOf` (operators/ensemble/scoring.ts), the same function the live scoring uses:
 * DOWN/FLAT/UP by the sign of the H-bar forward log return outside a neutral band of k * rvol_30 * sqrt(H). Why this
 * and not the triple-barrier method: the ensemble predicts at every bar for a fixed horizon, and the live scoring
 * (outcomes, governance, supervisor) grades each vote H bars later by the same fixed-horizon return, so training and
 * grading see one target; a triple-barrier label ends at whichever barrier is touched first, so its horizon varies
 * per row, depends on the path (and on stop/target levels that belong to the exits stage, not to the forecast) and
 * would make the purge per row instead of a constant H bars. The volatility scaling keeps what a triple barrier gets
 * from its volatility-sized barriers: the classes mean the same in calm and wild markets, per symbol.
 */
export async function exportDataset(opts: ExportOptions): Promise<ExportSummary & { readonly splits?: WalkForwardSplits }> {
  const barMs = opts.intervalMs ?? 60_000;
  const label: LabelSpec = { ...DEFAULT_LABEL, horizonBars: opts.horizon, k: opts.labelK ?? DEFAULT_LABEL.k };
  if (!(label.k >= 0 && Number.isFinite(label.k))) throw new RangeError(`label k must be a finite number >= 0, got ${label.k}`);
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
  // Labelled rows per bar open time: the splits count their rows with it.
  const labelledAt = new Map<number, number>();
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
            const y = rowLabel(row, label);
            buf += `${datasetLine(row, y)}\n`;
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
            if (y !== null) {
              acc.classCounts[y]++;
              labelledAt.set(v.openTime, (labelledAt.get(v.openTime) ?? 0) + 1);
            }
            return acc;
          },
          { rows: 0, classCounts: [0, 0, 0] as [number, number, number] },
        ),
      ),
    );
    writeSync(fd, buf);
    flushWindows();
    let splits: WalkForwardSplits | undefined;
    if (opts.splits) {
      const times = [...labelledAt.keys()];
      if (times.length === 0) throw new RangeError(`${opts.out}: no labelled rows to split`);
      const first = times.reduce((a, b) => Math.min(a, b));
      const last = times.reduce((a, b) => Math.max(a, b));
      splits = walkForwardSplits(basename(opts.out), first, last, { ...opts.splits, horizonBars: opts.horizon, barMs }, labelledAt);
      writeFileSync(`${opts.out}.splits.json`, `${JSON.stringify(splits, null, 2)}\n`);
    }
    const summary: ExportSummary = {
      file: opts.out,
      featureSet: FEATURE_SET,
      features: FEATURE_NAMES,
      horizon: opts.horizon,
      barMs,
      label,
      rows: counts.rows,
      labelled: counts.classCounts[0] + counts.classCounts[1] + counts.classCounts[2],
      classCounts: counts.classCounts,
      instruments: [...instruments].sort(),
      fromMs: counts.rows > 0 ? fromMs : 0,
      toMs: counts.rows > 0 ? toMs : 0,
      ...(splits ? { splitsFile: `${opts.out}.splits.json` } : {}),
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
    return splits ? { ...summary, splits } : summary;
  } finally {
    closeSync(fd);
    closeSync(wfd);
  }
}
