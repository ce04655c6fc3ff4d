import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { from } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { FEATURE_NAMES, FEATURE_WARMUP_BARS } from '../../operators/features/feature-set.ts';
import type { Bar } from '../../schemas/bar.ts';
import { labelOf } from '../../operators/ensemble/scoring.ts';
import { DATASET_HEADER, exportDataset } from './export.ts';
import type { WalkForwardSplits } from './splits.ts';

const M = 60_000;
const T0 = Date.UTC(2025, 4, 4);
const closeAt = (s: number, i: number): number => 100 * (s + 1) * Math.exp(0.01 * Math.sin(i / 7) + 0.0005 * i);

function bars(symbol: string, s: number, n: number): Bar[] {
  return Array.from({ length: n }, (_, i) => {
    const close = closeAt(s, i);
    const open = i === 0 ? close : closeAt(s, i - 1);
    return {
      id: `bar-${symbol}-${i}`,
      tsEvent: T0 + (i + 1) * M,
      tsInit: T0 + (i + 1) * M,
      exchange: 'binance',
      symbol,
      interval: '1m',
      openTime: T0 + i * M,
      open,
      high: Math.max(open, close) * 1.001,
      low: Math.min(open, close) * 0.999,
      close,
      volume: 10 + ((i * 7) % 13),
      quoteVolume: 0,
      buyVolume: 0,
      trades: 0,
    };
  });
}

const dir = mkdtempSync(join(tmpdir(), 'qt-export-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('exportDataset', () => {
  const N = 150;
  const H = 5;
  const interleaved = (): Bar[] => {
    const a = bars('BTC/USDT', 0, N);
    const b = bars('ETH/USDT', 1, N);
    return a.flatMap((x, i) => [x, b[i]!]);
  };

  it('writes the header, one row per feature vector, and fwd_ret from the close H bars later', async () => {
    const out = join(dir, 'd.csv');
    const summary = await exportDataset({ bars$: from(interleaved()), out, horizon: H });
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe(DATASET_HEADER);
    expect(DATASET_HEADER).toBe(`open_time,exchange,symbol,close,${FEATURE_NAMES.join(',')},fwd_ret,label`);
    const perSymbol = N - (FEATURE_WARMUP_BARS - 1); // the first vector comes with bar FEATURE_WARMUP_BARS
    expect(lines.length - 1).toBe(2 * perSymbol);
    expect(summary).toMatchObject({ rows: 2 * perSymbol, labelled: 2 * (perSymbol - H), horizon: H, barMs: M, featureSet: 'fs1' });
    expect(summary.instruments).toEqual(['binance:BTC/USDT', 'binance:ETH/USDT']);
    expect(summary.fromMs).toBe(T0 + (FEATURE_WARMUP_BARS - 1) * M);
    expect(summary.toMs).toBe(T0 + (N - 1) * M);

    const col = (name: string): number => DATASET_HEADER.split(',').indexOf(name);
    const classes = [0, 0, 0];
    let checked = 0;
    for (const line of lines.slice(1)) {
      const f = line.split(',');
      expect(f).toHaveLength(FEATURE_NAMES.length + 6);
      const i = (Number(f[0]) - T0) / M;
      const s = f[2] === 'BTC/USDT' ? 0 : 1;
      expect(Number(f[col('close')])).toBe(closeAt(s, i));
      // ret_1 worked out from the bars themselves: the columns are not shifted
      expect(Number(f[col('ret_1')])).toBeCloseTo(Math.log(closeAt(s, i) / closeAt(s, i - 1)), 12);
      if (i + H < N) {
        const fwd = Number(f[col('fwd_ret')]);
        expect(fwd).toBeCloseTo(Math.log(closeAt(s, i + H) / closeAt(s, i)), 14);
        // the label: 0/1/2 by labelOf with k = 0.5 (the default) on this row's own fwd_ret and rvol_30
        expect(f[col('label')]).toBe(String(labelOf(fwd, Number(f[col('rvol_30')]), { horizonBars: H, k: 0.5 })));
        classes[Number(f[col('label')])]!++;
        checked++;
      } else {
        expect(f[col('fwd_ret')]).toBe('');
        expect(f[col('label')]).toBe('');
      }
    }
    expect(checked).toBe(2 * (perSymbol - H));
    expect(classes.filter((c) => c > 0).length).toBeGreaterThan(1); // the series moves both ways: not one class
    expect(summary.classCounts).toEqual(classes);
    const meta = JSON.parse(readFileSync(`${out}.meta.json`, 'utf8'));
    expect(meta).toMatchObject({ horizon: H, barMs: M, featureSet: 'fs1', features: [...FEATURE_NAMES], classCounts: classes });
    expect(meta.label).toEqual({ kind: 'fwd-logret-vol-band', horizonBars: H, k: 0.5, volFeature: 'rvol_30' });
  });

  it('labels with the band k given, and writes the walk-forward splits over the labelled rows', async () => {
    const out = join(dir, 'k.csv');
    const wide = await exportDataset({ bars$: from(interleaved()), out, horizon: H, labelK: 50, splits: { folds: 2, purgeBars: H, embargoBars: 10 } });
    // a band of 50 volatilities: nothing leaves it
    expect(wide.classCounts).toEqual([0, wide.labelled, 0]);
    expect(wide.label.k).toBe(50);
    const splits = JSON.parse(readFileSync(`${out}.splits.json`, 'utf8')) as WalkForwardSplits;
    expect(splits).toEqual(wide.splits);
    expect(wide.splitsFile).toBe(`${out}.splits.json`);
    // labelled rows: open times T0 + 60..144 min (85 bars, 2 rows each): blocks of 28, 28, 29 bars
    expect(splits.range.fromMs).toBe(T0 + (FEATURE_WARMUP_BARS - 1) * M);
    expect(splits.range.toMs).toBe(T0 + (N - H) * M);
    expect(splits.folds.map((f) => [f.trainRows, f.validationRows])).toEqual([[2 * (28 - H), 2 * 28], [2 * (56 - H), 2 * 29]]);
    expect(splits).toMatchObject({ horizonBars: H, purgeBars: H, embargoBars: 10, barMs: M, dataset: 'k.csv' });
  });

  it('is deterministic: the same bars give the same bytes', async () => {
    const a = join(dir, 'a.csv');
    const b = join(dir, 'b.csv');
    await exportDataset({ bars$: from(interleaved()), out: a, horizon: H });
    await exportDataset({ bars$: from(interleaved()), out: b, horizon: H });
    expect(readFileSync(a)).toEqual(readFileSync(b));
  });

  // training/tests/test_dataset.py reads this fixture with the Python reader, which checks every TypeScript label
  // against its own formula. Regenerate: QT_WRITE_EXPORT_FIXTURE=1 npx vitest run pipelines/dataset/export.spec.ts
  it('training/tests/fixtures/ts-export.csv is what the export writes', async () => {
    const out = join(dir, 'ts-export.csv');
    await exportDataset({ bars$: from(interleaved()), out, horizon: H });
    const fixture = join(import.meta.dirname, '..', '..', 'training', 'tests', 'fixtures', 'ts-export.csv');
    const csv = readFileSync(out, 'utf8');
    // the meta names its own path: the fixture's names its base name
    const meta = readFileSync(`${out}.meta.json`, 'utf8').replace(JSON.stringify(out), JSON.stringify('ts-export.csv'));
    if (process.env.QT_WRITE_EXPORT_FIXTURE === '1') {
      writeFileSync(fixture, csv);
      writeFileSync(`${fixture}.meta.json`, meta);
    }
    expect(existsSync(fixture)).toBe(true);
    expect(readFileSync(fixture, 'utf8')).toBe(csv);
    expect(readFileSync(`${fixture}.meta.json`, 'utf8')).toBe(meta);
  });

  it('writes only the header for too few bars', async () => {
    const out = join(dir, 'short.csv');
    const summary = await exportDataset({ bars$: from(bars('X/USDT', 0, 10)), out, horizon: H });
    expect(readFileSync(out, 'utf8')).toBe(`${DATASET_HEADER}\n`);
    expect(summary.rows).toBe(0);
  });
});
