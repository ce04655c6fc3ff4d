/**
 * Trains ensemble members on the real data: Binance USD-M 1m klines → ingest validation → the serving feature operator
 * → dataset CSV (the rows and columns of pipelines/dataset/export.ts, written with its `datasetLine`) plus a window
 * sidecar → the Python trainers (training/qt_training, Debian's /usr/bin/python3) → models/store/<member>/<version>/
 * {model.onnx, card.json, parity.json} → a parity check of each artifact with onnxruntime-node (the serving runtime).
 *
 *   npx tsx scripts/train-members.ts [--members lgbm,nhits,patchtst] [--version v1] [--data <dir>] [--horizon 15]
 *       [--from 2025-05-01] [--valid-from 2025-05-25] [--valid-to 2025-06-03] [--work var/dataset] [--store models/store]
 *       [--skip-export]
 *
 * Defaults are those of scripts/train-default-model.ts (which made xgb/v1): the same rows, labels and split.
 *
 * The window sidecar: `export.ts` writes `FeatureVector.values` only, and the window models read `FeatureVector.window`.
 * So this export also writes, for the same vectors in the same order, `<csv>.window.f32` (little-endian float32, one
 * row of WINDOW_LENGTH x WINDOW_CHANNELS values per CSV data row, oldest bar first, row-major: the layout the ensemble
 * feeds to a window model) and `<csv>.window.json` (channels, length, rows). The CSV itself is the export's, byte for
 * byte: same operator chain, same `datasetLine`, same `.meta.json`.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { lastValueFrom, queueScheduler, type Observable } from 'rxjs';
import { filter, map, reduce } from 'rxjs/operators';
import { loadModel } from '../models/load.ts';
import { FEATURE_NAMES, FEATURE_SET, WINDOW_CHANNELS, WINDOW_LENGTH } from '../operators/features/feature-set.ts';
import { featureVectors } from '../operators/features/feature-vectors.ts';
import { DATASET_HEADER, datasetLine, type ExportSummary } from '../pipelines/dataset/export.ts';
import { forwardReturns } from '../pipelines/dataset/forward-returns.ts';
import { ingestEpic } from '../pipelines/ingest/epic.ts';
import type { Bar } from '../schemas/bar.ts';
import { readKlineFiles } from '../sources/binance-csv.ts';

const ROOT = resolve(import.meta.dirname, '..');
const PYTHON = '/usr/bin/python3';
const CHUNK = 1 << 20;

const { values: a } = parseArgs({
  options: {
    data: { type: 'string', default: resolve(ROOT, '..', 'shared', 'data', 'klines-1m', 'usdm') },
    members: { type: 'string', default: 'lgbm,nhits,patchtst' },
    version: { type: 'string', default: 'v1' },
    horizon: { type: 'string', default: '15' },
    from: { type: 'string', default: '2025-05-01T00:00:00Z' },
    'valid-from': { type: 'string', default: '2025-05-25T00:00:00Z' },
    'valid-to': { type: 'string', default: '2025-06-03T00:00:00Z' },
    work: { type: 'string', default: join(ROOT, 'var', 'dataset') },
    store: { type: 'string', default: join(ROOT, 'models', 'store') },
    'skip-export': { type: 'boolean', default: false },
  },
});

/** What the window sidecar holds; the content of `<csv>.window.json`. */
export interface WindowSidecar {
  readonly file: string;
  readonly dtype: 'float32-le';
  readonly featureSet: string;
  readonly channels: readonly string[];
  readonly length: number;
  readonly rows: number;
}

/** The dataset CSV of export.ts plus the window sidecar, in one pass of the serving feature operator. */
async function exportWithWindow(bars$: Observable<Bar>, out: string, horizon: number, barMs = 60_000): Promise<ExportSummary> {
  mkdirSync(dirname(out), { recursive: true });
  const fd = openSync(out, 'w');
  const wfd = openSync(`${out}.window.f32`, 'w');
  const width = WINDOW_LENGTH * WINDOW_CHANNELS.length;
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
      bars$.pipe(
        featureVectors({ scheduler: queueScheduler, intervalMs: barMs }),
        forwardReturns(horizon, barMs),
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
      file: out,
      featureSet: FEATURE_SET,
      features: FEATURE_NAMES,
      horizon,
      barMs,
      rows: counts.rows,
      labelled: counts.labelled,
      instruments: [...instruments].sort(),
      fromMs: counts.rows > 0 ? fromMs : 0,
      toMs: counts.rows > 0 ? toMs : 0,
    };
    writeFileSync(`${out}.meta.json`, `${JSON.stringify(summary, null, 2)}\n`);
    const sidecar: WindowSidecar = {
      file: `${out}.window.f32`,
      dtype: 'float32-le',
      featureSet: FEATURE_SET,
      channels: WINDOW_CHANNELS,
      length: WINDOW_LENGTH,
      rows: counts.rows,
    };
    writeFileSync(`${out}.window.json`, `${JSON.stringify(sidecar, null, 2)}\n`);
    return summary;
  } finally {
    closeSync(fd);
    closeSync(wfd);
  }
}

interface Parity {
  readonly rows: number;
  readonly inputs: readonly (readonly number[])[];
  readonly probabilities: readonly (readonly number[])[];
}

/** Max |onnxruntime-node - trainer| over the parity rows of a freshly written artifact. */
async function parityError(dir: string, member: string): Promise<number> {
  const parity = JSON.parse(readFileSync(join(dir, 'parity.json'), 'utf8')) as Parity;
  const model = await loadModel(dir, { member, expectedFeatures: FEATURE_NAMES });
  try {
    const width = model.card.input.kind === 'window' ? WINDOW_LENGTH * WINDOW_CHANNELS.length : FEATURE_NAMES.length;
    const x = new Float32Array(parity.rows * width);
    parity.inputs.forEach((row, i) => x.set(row, i * width));
    const p = await model.predict(x, parity.rows);
    let worst = 0;
    parity.probabilities.forEach((row, i) => row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - p[i * 3 + j]!)))));
    return worst;
  } finally {
    await model.close();
  }
}

async function main(): Promise<number> {
  const horizon = Number(a.horizon);
  const csv = join(a.work, `usdm-h${horizon}.csv`);
  if (!a['skip-export']) {
    if (!existsSync(a.data)) {
      process.stderr.write(`no data at ${a.data} (pass --data <folder of Binance 1m kline files>)\n`);
      return 2;
    }
    const t0 = performance.now();
    let deadLetters = 0;
    const bars$ = ingestEpic(
      { bars: readKlineFiles(a.data, { fromMs: Date.parse(a.from), interval: '1m' }) },
      // Replayed history: no lateness allowed beyond one bar, every instrument in the files is known.
      { scheduler: queueScheduler, allowedLatenessMs: 60_000 },
    ).pipe(
      filter((o) => {
        if (o.topic === 'md.bars.1m.v1.dlq') deadLetters++;
        return o.topic === 'md.bars.1m.v1';
      }),
      map((o) => o.value as Bar),
    );
    const summary = await exportWithWindow(bars$, csv, horizon);
    process.stderr.write(
      `dataset ${csv} (+ window sidecar): ${summary.rows} rows (${summary.labelled} labelled), ` +
        `${summary.instruments.length} instruments, ${deadLetters} dead letters, ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
    );
  } else if (!existsSync(csv) || !existsSync(`${csv}.window.json`)) {
    process.stderr.write(`--skip-export: no dataset with a window sidecar at ${csv}\n`);
    return 2;
  }
  let failed = 0;
  for (const member of a.members.split(',').map((m) => m.trim()).filter(Boolean)) {
    const out = join(a.store, member, a.version);
    const t0 = performance.now();
    const py = spawnSync(
      PYTHON,
      ['-m', 'qt_training.train', '--data', csv, '--member', member, '--out', out, '--version', a.version,
        '--valid-from', a['valid-from'], '--valid-to', a['valid-to']],
      // OMP_WAIT_POLICY: see training/qt_training/__init__.py (spinning OpenMP threads on a shared 2-core machine).
      { cwd: join(ROOT, 'training'), stdio: 'inherit', env: { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE' } },
    );
    if (py.error) throw py.error;
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    if (py.status !== 0) {
      process.stderr.write(`${member}: trainer failed (exit ${py.status}) after ${secs} s\n`);
      failed++;
      continue;
    }
    const worst = await parityError(out, member);
    const ok = worst < 1e-4;
    process.stderr.write(`${member}: trained in ${secs} s; onnxruntime-node parity max |diff| ${worst.toExponential(2)} ${ok ? 'OK' : 'FAILED'}\n`);
    if (!ok) failed++;
  }
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main();
