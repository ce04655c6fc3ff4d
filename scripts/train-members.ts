/**
 * Trains the ensemble's members on the real data: Binance USD-M 1m klines → ingest validation → the dataset export
 * (pipelines/dataset/export.ts: the serving feature operator, the CSV with its label column, the window sidecar and the
 * walk-forward splits) → the Python trainers (training/qt_training, Debian's /usr/bin/python3) →
 * models/store/<member>/<version>/{model.onnx, card.json, parity.json} → a parity check of each artifact with
 * onnxruntime-node (the serving runtime).
 *
 *   npx tsx scripts/train-members.ts [--members xgb,lgbm,nhits,patchtst] [--version v1] [--data <dir>] [--horizon 15]
 *       [--from 2025-05-01] [--valid-from 2025-05-25] [--valid-to 2025-06-03] [--work var/dataset] [--store models/store]
 *       [--skip-export | --export-only] [--fold k]
 *
 * The defaults reproduce the shipped v1 members: the same rows, labels and split for all four. `--fold k` trains on
 * fold k of the exported walk-forward splits (<csv>.splits.json: 4 folds, purge H, embargo 60 bars) instead of the
 * --valid-from/--valid-to split. `--export-only` writes the dataset and stops (scripts/annotate-cards.ts reads it).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { queueScheduler } from 'rxjs';
import { filter, map } from 'rxjs/operators';
import { loadModel } from '../models/load.ts';
import { FEATURE_NAMES, WINDOW_CHANNELS, WINDOW_LENGTH } from '../operators/features/feature-set.ts';
import { exportDataset } from '../pipelines/dataset/export.ts';
import { ingestEpic } from '../pipelines/ingest/epic.ts';
import type { Bar } from '../schemas/bar.ts';
import { readKlineFiles } from '../sources/binance-csv.ts';

const ROOT = resolve(import.meta.dirname, '..');
const PYTHON = '/usr/bin/python3';

const { values: a } = parseArgs({
  options: {
    data: { type: 'string', default: resolve(ROOT, '..', 'shared', 'data', 'klines-1m', 'usdm') },
    members: { type: 'string', default: 'xgb,lgbm,nhits,patchtst' },
    version: { type: 'string', default: 'v1' },
    horizon: { type: 'string', default: '15' },
    from: { type: 'string', default: '2025-05-01T00:00:00Z' },
    'valid-from': { type: 'string', default: '2025-05-25T00:00:00Z' },
    'valid-to': { type: 'string', default: '2025-06-03T00:00:00Z' },
    work: { type: 'string', default: join(ROOT, 'var', 'dataset') },
    store: { type: 'string', default: join(ROOT, 'models', 'store') },
    'skip-export': { type: 'boolean', default: false },
    'export-only': { type: 'boolean', default: false },
    fold: { type: 'string' },
  },
});

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
    const summary = await exportDataset({ bars$, out: csv, horizon, splits: { folds: 4, purgeBars: horizon, embargoBars: 60 } });
    process.stderr.write(
      `dataset ${csv} (+ window sidecar): ${summary.rows} rows (${summary.labelled} labelled), ` +
        `${summary.instruments.length} instruments, ${deadLetters} dead letters, ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
    );
  } else if (!existsSync(csv) || !existsSync(`${csv}.window.json`)) {
    process.stderr.write(`--skip-export: no dataset with a window sidecar at ${csv}\n`);
    return 2;
  }
  if (a['export-only']) return 0;
  const split = a.fold === undefined
    ? ['--valid-from', a['valid-from'], '--valid-to', a['valid-to']]
    : ['--splits', `${csv}.splits.json`, '--fold', a.fold];
  let failed = 0;
  for (const member of a.members.split(',').map((m) => m.trim()).filter(Boolean)) {
    const out = join(a.store, member, a.version);
    const t0 = performance.now();
    const py = spawnSync(
      PYTHON,
      ['-m', 'qt_training.train', '--data', csv, '--member', member, '--out', out, '--version', a.version, ...split],
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
