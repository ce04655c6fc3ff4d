import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, from, queueScheduler, Subject } from 'rxjs';
import { filter, map, toArray } from 'rxjs/operators';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labelOf } from '../operators/ensemble/scoring.ts';
import { FEATURE_NAMES, WINDOW_CHANNELS, WINDOW_LENGTH } from '../operators/features/feature-set.ts';
import type { Bar } from '../schemas/bar.ts';
import type { FeatureVector } from '../schemas/feature-vector.ts';
import type { SourceRecord } from '../schemas/source-record.ts';
import type { Trade } from '../schemas/trade.ts';
import { datasetCli } from '../pipelines/cli/dataset.ts';
import type { CliIo } from '../pipelines/cli/common.ts';
import { loadConfig } from '../pipelines/config.ts';
import { DATASET_HEADER } from '../pipelines/dataset/export.ts';
import type { WalkForwardSplits } from '../pipelines/dataset/splits.ts';
import { featuresEpic } from '../pipelines/features/epic.ts';
import { ingestEpic } from '../pipelines/ingest/epic.ts';
import { openMarket } from '../pipelines/run/market.ts';

const tmp = mkdtempSync(join(tmpdir(), 'qt-dataset-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs `qt dataset <argv>` in this process with captured output. */
async function qtDataset(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) => ({ write: (s: string) => (append(s), true) }) as unknown as NodeJS.WriteStream;
  const io: CliIo = { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), env: {}, wallNow: () => 0 };
  const code = await datasetCli(argv, io);
  return { code, stdout, stderr };
}

const MARKET = ['--symbols', 'BTC/USDT,ETH/USDT,SOL/USDT', '--days', '2', '--seed', '11'];
const H = 10;

describe('qt dataset export', () => {
  const out = join(tmp, 'ds', 'dataset.csv');
  let run: { code: number; stdout: string; stderr: string };
  let header: string[];
  let rows: string[][];
  const col = (name: string): number => header.indexOf(name);

  beforeAll(async () => {
    run = await qtDataset(['export', ...MARKET, '--out', out, '--horizon', String(H), '--band-k', '0.4', '--folds', '3', '--embargo-bars', '30']);
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
    header = lines[0]!.split(',');
    rows = lines.slice(1).map((l) => l.split(','));
  });

  it('exits 0 and writes the CSV with the features, fwd_ret and label columns', () => {
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(header.join(',')).toBe(DATASET_HEADER);
    expect(header).toEqual(['open_time', 'exchange', 'symbol', 'close', ...FEATURE_NAMES, 'fwd_ret', 'label']);
    // 3 symbols x 2880 bars, minus the 60 bars of warm-up each
    expect(rows).toHaveLength(3 * (2880 - 60));
    const window = JSON.parse(readFileSync(`${out}.window.json`, 'utf8'));
    expect(window).toMatchObject({ rows: rows.length, length: WINDOW_LENGTH, channels: [...WINDOW_CHANNELS] });
    expect(statSync(`${out}.window.f32`).size).toBe(rows.length * WINDOW_LENGTH * WINDOW_CHANNELS.length * 4);
  });

  it('labels every row by labelOf(fwd_ret, rvol_30, {H, k}) and leaves it empty where fwd_ret is unknown', () => {
    const counts = [0, 0, 0];
    let unknown = 0;
    for (const r of rows) {
      const fwd = r[col('fwd_ret')]!;
      if (fwd === '') {
        expect(r[col('label')]).toBe('');
        unknown++;
        continue;
      }
      const y = labelOf(Number(fwd), Number(r[col('rvol_30')]), { horizonBars: H, k: 0.4 });
      expect(r[col('label')]).toBe(String(y));
      counts[y]!++;
    }
    expect(unknown).toBe(3 * H); // the last H bars of each symbol
    expect(Math.min(...counts)).toBeGreaterThan(rows.length / 10); // three real classes, not one
    const meta = JSON.parse(readFileSync(`${out}.meta.json`, 'utf8'));
    expect(meta.label).toEqual({ kind: 'fwd-logret-vol-band', horizonBars: H, k: 0.4, volFeature: 'rvol_30' });
    expect(meta.classCounts).toEqual(counts);
    expect(meta).toMatchObject({ horizon: H, rows: rows.length, labelled: rows.length - 3 * H, splitsFile: `${out}.splits.json` });
  });

  it('writes walk-forward splits whose row counts match the CSV and whose training respects purge and embargo', () => {
    const s = JSON.parse(readFileSync(`${out}.splits.json`, 'utf8')) as WalkForwardSplits;
    expect(s).toMatchObject({ kind: 'walk-forward-expanding', horizonBars: H, purgeBars: H, embargoBars: 30, barMs: 60_000, dataset: 'dataset.csv' });
    expect(s.folds).toHaveLength(3);
    const labelledTimes = rows.filter((r) => r[col('label')] !== '').map((r) => Number(r[0]));
    expect(s.range.fromMs).toBe(Math.min(...labelledTimes));
    expect(s.range.toMs).toBe(Math.max(...labelledTimes) + 60_000);
    const validationEnds: number[] = [];
    for (const f of s.folds) {
      const inTrain = (t: number): boolean => f.train.some((r) => t >= r.fromMs && t < r.toMs);
      expect(f.trainRows).toBe(labelledTimes.filter(inTrain).length);
      expect(f.validationRows).toBe(labelledTimes.filter((t) => t >= f.validation.fromMs && t < f.validation.toMs).length);
      for (const t of labelledTimes.filter(inTrain)) {
        expect(t + H * 60_000).toBeLessThan(f.validation.fromMs);
        for (const e of validationEnds) expect(t >= e && t < e + 30 * 60_000).toBe(false);
      }
      validationEnds.push(f.validation.toMs);
    }
    expect(s.folds[2]!.embargoed).toHaveLength(1); // fold 3 trains across fold 1's block and its embargo
  });

  it('prints rows, labelled rows, class counts, the folds and the files', () => {
    const o = run.stdout;
    expect(o).toContain('synthetic market, 3 symbols, seed 11');
    expect(o).toMatch(/bars\s+8,640 \(dead letters 0\)/);
    expect(o).toContain(`rows          ${rows.length.toLocaleString('en-US')}, 3 instruments`);
    const meta = JSON.parse(readFileSync(`${out}.meta.json`, 'utf8'));
    const [down, flat, up] = (meta.classCounts as number[]).map((c) => c.toLocaleString('en-US'));
    expect(o).toMatch(new RegExp(`labelled\\s+${meta.labelled.toLocaleString('en-US')}: DOWN ${down} \\([\\d.]+%\\)  FLAT ${flat} \\([\\d.]+%\\)  UP ${up} `));
    expect(o).toContain('3, expanding walk-forward, purge 10 bars, embargo 30 bars');
    const s = JSON.parse(readFileSync(`${out}.splits.json`, 'utf8')) as WalkForwardSplits;
    for (const f of s.folds) {
      expect(o).toMatch(new RegExp(`fold ${f.fold}  train .* \\(${f.trainRows.toLocaleString('en-US')} rows\\)  validation .* \\(${f.validationRows.toLocaleString('en-US')} rows\\)`));
    }
    for (const suffix of ['', '.meta.json', '.window.f32', '.window.json', '.splits.json']) expect(o).toContain(`    ${out}${suffix}\n`);
  });

  it('exports the features the pipeline serves: featuresEpic on the same bars gives the same values', async () => {
    // The same market and ingest, driven independently of the CLI; then the serving stage's epic.
    const config = loadConfig({ flags: { run: { symbols: ['BTC/USDT', 'ETH/USDT', 'SOL/USDT'], syntheticDays: '2', seed: '11' } } });
    const market = await openMarket(config);
    const trades = new Subject<SourceRecord<Trade>>();
    const barsP = firstValueFrom(
      ingestEpic({ trades }, { scheduler: queueScheduler, allowedLatenessMs: config.market.allowedLatenessMs, maxJump: config.market.maxJump, symbols: market.instruments }).pipe(
        filter((o) => o.topic === 'md.bars.1m.v1'),
        map((o) => o.value as Bar),
        toArray(),
      ),
    );
    for await (const chunk of market.chunks()) for (const item of chunk) if (item.kind === 'trade') trades.next(item.record);
    trades.complete();
    const bars = await barsP;
    const vectors = await firstValueFrom(
      featuresEpic({ bars: from(bars) }, { scheduler: queueScheduler }).pipe(
        map((o) => o.value as FeatureVector),
        toArray(),
      ),
    );
    expect(vectors).toHaveLength(rows.length);
    const served = new Map(vectors.map((v) => [`${v.symbol}@${v.openTime}`, v]));
    for (const r of rows) {
      const v = served.get(`${r[2]}@${r[0]}`);
      expect(v, `${r[2]}@${r[0]}`).toBeDefined();
      expect(Number(r[col('close')])).toBe(v!.close);
      // shortest round-trip numbers: the CSV text reads back as the served doubles, bit for bit
      expect(FEATURE_NAMES.map((name) => Number(r[col(name)]))).toEqual(v!.values);
    }
  });

  it('is deterministic: the same market gives the same files', async () => {
    const a = join(tmp, 'a', 'd.csv');
    const b = join(tmp, 'b', 'd.csv');
    const small = ['--symbols', 'BTC/USDT', '--days', '0.25', '--seed', '3', '--folds', '2'];
    expect((await qtDataset(['export', ...small, '--out', a])).code).toBe(0);
    expect((await qtDataset(['export', ...small, '--out', b])).code).toBe(0);
    expect(readFileSync(`${b}.window.f32`)).toEqual(readFileSync(`${a}.window.f32`));
    // the text files differ only where they name their own path
    for (const suffix of ['', '.meta.json', '.window.json', '.splits.json']) {
      expect(readFileSync(b + suffix, 'utf8').replaceAll(b, a)).toBe(readFileSync(a + suffix, 'utf8'));
    }
  });
});

describe('qt dataset: usage and bad flags', () => {
  it('prints the usage for --help', async () => {
    for (const argv of [['export', '--help'], ['--help']]) {
      const r = await qtDataset(argv);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Usage: qt dataset export [flags]');
      for (const flag of ['--data', '--symbols', '--from', '--to', '--days', '--seed', '--out', '--horizon', '--band-k', '--folds', '--purge-bars', '--embargo-bars']) {
        expect(r.stdout).toContain(flag);
      }
    }
  });

  it('lists every problem of the command line and exits 2', async () => {
    const r = await qtDataset(['export', '--horizon', 'x', '--folds', '0', '--purge-bars', '3', '--band-k', '-1', '--embargo-bars', '1.5', '--bogus', '--seed', 'q', 'extra']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    for (const problem of [
      '--bogus: unknown flag',
      'run.seed',
      '--horizon: expects an integer >= 1, got x',
      '--folds: expects an integer >= 1, got 0',
      '--purge-bars 3 is shorter than --horizon 15',
      '--band-k: expects a number >= 0, got -1',
      '--embargo-bars: expects an integer >= 0, got 1.5',
      'unexpected arguments: extra',
    ]) {
      expect(r.stderr).toContain(problem);
    }
  });

  it('exits 2 for an unknown subcommand, and for a market too short for the folds', async () => {
    expect((await qtDataset(['import'])).code).toBe(2);
    const r = await qtDataset(['export', '--symbols', 'BTC/USDT', '--days', '0.1', '--folds', '8', '--out', join(tmp, 'short.csv')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/too few for 8 folds/);
  });
});
