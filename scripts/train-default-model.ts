/**
 * Trains the shipped default model: Binance USD-M 1m klines → ingest validation → the serving feature operator →
 * dataset CSV (pipelines/dataset/export.ts) → the Python trainer (training/qt_training, Debian's /usr/bin/python3) →
 * models/store/xgb/<version>/{model.onnx, card.json, parity.json}.
 *
 *   npx tsx scripts/train-default-model.ts [--data <dir>] [--version v1] [--horizon 15]
 *       [--from 2025-05-01] [--valid-from 2025-05-25] [--valid-to 2025-06-03] [--work var/dataset] [--store models/store]
 *
 * Defaults reproduce the shipped model: the 16 USD-M symbols of ../shared/data/klines-1m/usdm (May–June 2025),
 * trained on open times before 2025-05-25 (minus a purge gap of H bars), validated on 2025-05-25 to 2025-06-03.
 * The other members (lgbm, nhits, patchtst; the window models need the window sidecar): scripts/train-members.ts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { queueScheduler } from 'rxjs';
import { filter, map } from 'rxjs/operators';
import { exportDataset } from '../pipelines/dataset/export.ts';
import { ingestEpic } from '../pipelines/ingest/epic.ts';
import type { Bar } from '../schemas/bar.ts';
import { readKlineFiles } from '../sources/binance-csv.ts';

const ROOT = resolve(import.meta.dirname, '..');
const PYTHON = '/usr/bin/python3';

const { values: a } = parseArgs({
  options: {
    data: { type: 'string', default: resolve(ROOT, '..', 'shared', 'data', 'klines-1m', 'usdm') },
    version: { type: 'string', default: 'v1' },
    member: { type: 'string', default: 'xgb' },
    horizon: { type: 'string', default: '15' },
    from: { type: 'string', default: '2025-05-01T00:00:00Z' },
    'valid-from': { type: 'string', default: '2025-05-25T00:00:00Z' },
    'valid-to': { type: 'string', default: '2025-06-03T00:00:00Z' },
    work: { type: 'string', default: join(ROOT, 'var', 'dataset') },
    store: { type: 'string', default: join(ROOT, 'models', 'store') },
  },
});

async function main(): Promise<number> {
  if (!existsSync(a.data)) {
    process.stderr.write(`no data at ${a.data} (pass --data <folder of Binance 1m kline files>)\n`);
    return 2;
  }
  const horizon = Number(a.horizon);
  const csv = join(a.work, `usdm-h${horizon}.csv`);
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
  const summary = await exportDataset({ bars$, out: csv, horizon });
  process.stderr.write(
    `dataset ${csv}: ${summary.rows} rows (${summary.labelled} labelled), ${summary.instruments.length} instruments, ` +
      `${deadLetters} dead letters\n`,
  );
  const out = join(a.store, a.member, a.version);
  const py = spawnSync(
    PYTHON,
    ['-m', 'qt_training.train', '--data', csv, '--member', a.member, '--out', out, '--version', a.version,
      '--valid-from', a['valid-from'], '--valid-to', a['valid-to']],
    { cwd: join(ROOT, 'training'), stdio: 'inherit' },
  );
  if (py.error) throw py.error;
  return py.status ?? 1;
}

process.exitCode = await main();
