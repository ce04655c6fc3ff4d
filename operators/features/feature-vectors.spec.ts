import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { concat, from, lastValueFrom, toArray } from 'rxjs';
import { map } from 'rxjs/operators';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { Bar } from '../../schemas/bar.ts';
import type { FeatureVector } from '../../schemas/feature-vector.ts';
import { deriveId } from '../../schemas/ids.ts';
import { genBars, makeBar } from '../../test/fixtures/gen-bars.ts';
import { naiveFeatures } from '../../test/fixtures/naive-features.ts';
import { FEATURE_NAMES, FEATURE_SET, FEATURE_WARMUP_BARS, WINDOW_CHANNELS, WINDOW_LENGTH } from './feature-set.ts';
import { FeatureEngine, featureVectors } from './feature-vectors.ts';

const M = 60_000;
const clock = { now: () => 7 } as ConstructorParameters<typeof FeatureEngine>[0]['scheduler'];

function engineRun(bars: readonly Bar[]): FeatureVector[] {
  const e = new FeatureEngine({ scheduler: clock });
  return bars.map((b) => e.onBar(b)).filter((v): v is FeatureVector => v !== null);
}

function expectNear(a: number, b: number, what: string): void {
  expect(Math.abs(a - b), `${what}: ${a} vs ${b}`).toBeLessThanOrEqual(1e-12 + 1e-9 * Math.abs(b));
}

describe('featureVectors: marbles', () => {
  it('emits one vector per bar from the 61st bar on, stamped with the scheduler time', () => {
    const bars = genBars({ n: 63, seed: 5 });
    const ts = new TestScheduler((a, b) => expect(a).toEqual(b));
    ts.run(({ cold, expectObservable }) => {
      // The first 60 bars arrive at frame 0 and give nothing; bars 61..63 arrive at frames 0, 2, 4.
      const src = concat(from(bars.slice(0, 60)), cold('a-b-c|', { a: bars[60]!, b: bars[61]!, c: bars[62]! }));
      const shape = (v: FeatureVector) => ({ barId: v.barId, tsInit: v.tsInit, tsEvent: v.tsEvent, n: v.values.length, w: v.window.length });
      const exp = (i: number, frame: number) => ({ barId: bars[i]!.id, tsInit: frame, tsEvent: bars[i]!.openTime + M, n: FEATURE_NAMES.length, w: WINDOW_LENGTH * WINDOW_CHANNELS.length });
      expectObservable(src.pipe(featureVectors({ scheduler: ts }), map(shape))).toBe('x-y-z|', { x: exp(60, 0), y: exp(61, 2), z: exp(62, 4) });
    });
  });
});

describe('featureVectors', () => {
  it('builds the message from the bar: ids, instrument, times, feature set, shape', async () => {
    const bars = genBars({ n: 61, seed: 6, exchange: 'binance', symbol: 'ETH/USDT' });
    const [v] = await lastValueFrom(from(bars).pipe(featureVectors({ scheduler: clock }), toArray()));
    const b = bars[60]!;
    expect(v).toMatchObject({
      id: deriveId('feat', b.id, FEATURE_SET),
      tsEvent: b.tsEvent,
      tsInit: 7,
      exchange: 'binance',
      symbol: 'ETH/USDT',
      barId: b.id,
      openTime: b.openTime,
      close: b.close,
      featureSet: FEATURE_SET,
      windowLength: WINDOW_LENGTH,
      windowChannels: WINDOW_CHANNELS.length,
    });
    expect(Object.keys(v!)).toEqual(['id', 'tsEvent', 'tsInit', 'exchange', 'symbol', 'barId', 'openTime', 'close', 'featureSet', 'values', 'windowLength', 'windowChannels', 'window']);
    expect(v!.values.every(Number.isFinite) && v!.window.every(Number.isFinite)).toBe(true);
  });

  it('matches the naive reference', () => {
    const bars = genBars({ n: 250, seed: 8, emptyProb: 0.05 });
    const ref = naiveFeatures(bars);
    const vs = engineRun(bars);
    expect(vs).toHaveLength(250 - 60);
    for (const v of vs) {
      const t = (v.openTime - bars[0]!.openTime) / M;
      const r = ref[t]!;
      FEATURE_NAMES.forEach((name, i) => expectNear(v.values[i]!, r.values[name]!, `${name} at ${t}`));
      r.rows.flat().forEach((x, k) => expectNear(v.window[k]!, x, `window cell ${k} at ${t}`));
    }
  });

  it('has no lookahead: features of bar t are the same from bars[0..t], from all bars, and with later bars changed', () => {
    const bars = genBars({ n: 160, seed: 9 });
    const full = new Map(engineRun(bars).map((v) => [v.openTime, v]));
    for (let t = FEATURE_WARMUP_BARS - 1; t < bars.length; t += 7) {
      const prefix = engineRun(bars.slice(0, t + 1));
      const at = (vs: FeatureVector[]) => vs.find((v) => v.openTime === bars[t]!.openTime);
      expect(at(prefix)).toEqual(full.get(bars[t]!.openTime));
      const perturbed = bars.map((b, i) => (i <= t ? b : makeBar({ openTime: b.openTime, open: b.close * 2, close: b.close * 3, high: b.close * 3.5, low: b.close * 1.5, volume: b.volume * 100 })));
      expect(at(engineRun(perturbed))).toEqual(full.get(bars[t]!.openTime));
    }
  });

  it('keeps instruments apart: interleaved streams give each instrument the vectors it gets alone', () => {
    const a = genBars({ n: 90, seed: 10, symbol: 'A/USDT' });
    const b = genBars({ n: 90, seed: 11, symbol: 'B/USDT', exchange: 'other' });
    const mixed = engineRun(a.flatMap((x, i) => [x, b[i]!]));
    expect(mixed.filter((v) => v.symbol === 'A/USDT')).toEqual(engineRun(a));
    expect(mixed.filter((v) => v.symbol === 'B/USDT')).toEqual(engineRun(b));
    expect(mixed).toHaveLength(2 * 30);
  });

  it('ignores a redelivered or older bar and restarts the warm-up after a gap', () => {
    const bars = genBars({ n: 200, seed: 12 });
    const once = engineRun(bars);
    expect(engineRun(bars.flatMap((b, i) => (i % 5 === 0 ? [b, b] : i > 0 ? [b, bars[i - 1]!] : [b])))).toEqual(once);
    // Drop bar 100: bars 101.. follow a gap, so they warm up again and the first vector after it is bar 101 + 60.
    const gapped = engineRun([...bars.slice(0, 100), ...bars.slice(101)]);
    const t = (v: FeatureVector) => (v.openTime - bars[0]!.openTime) / M;
    expect(gapped.map(t)).toEqual([...Array.from({ length: 40 }, (_, i) => 60 + i), ...Array.from({ length: 200 - 161 }, (_, i) => 161 + i)]);
    // And the vectors after the gap are those of the series starting at bar 101.
    expect(gapped.filter((v) => t(v) >= 161)).toEqual(engineRun(bars.slice(101)));
  });

  it('keeps state per subscription', async () => {
    const bars$ = from(genBars({ n: 70, seed: 13 })).pipe(featureVectors({ scheduler: clock }), toArray());
    const first = await lastValueFrom(bars$);
    expect(first).toHaveLength(10);
    expect(await lastValueFrom(bars$)).toEqual(first);
  });
});

const BTC = '/work/shared/data/klines-1m/spot/BTCUSDT-1m-2021-04-02_2021-05-14.csv.gz';
if (!existsSync(BTC)) console.log(`feature-vectors real-data test skipped: ${BTC} not found`);

describe.skipIf(!existsSync(BTC))('featureVectors on real Binance 1m klines (BTCUSDT spot, 2021-04-02..05-14)', () => {
  it('gives finite values matching the reference on every bar after the warm-up, restarting at the two gaps', () => {
    const rows = gunzipSync(readFileSync(BTC)).toString('utf8').split('\n').filter((l) => l.length > 0);
    expect(rows).toHaveLength(61_272);
    const bars = rows.map((l) => {
      const [t, o, h, lo, c, v] = l.split(',').map(Number);
      return makeBar({ exchange: 'binance', symbol: 'BTC/USDT', openTime: t!, open: o!, high: h!, low: lo!, close: c!, volume: v! });
    });
    // Contiguous runs, found independently of the engine; each yields max(0, length - 60) vectors.
    const runs: Bar[][] = [[bars[0]!]];
    for (let i = 1; i < bars.length; i++) {
      if (bars[i]!.openTime === bars[i - 1]!.openTime + M) runs[runs.length - 1]!.push(bars[i]!);
      else runs.push([bars[i]!]);
    }
    expect(runs).toHaveLength(3); // the README: 2 gaps
    const vs = engineRun(bars);
    expect(vs).toHaveLength(runs.reduce((s, r) => s + Math.max(0, r.length - 60), 0));
    let k = 0;
    for (const run of runs) {
      const ref = naiveFeatures(run, (t) => t % 97 === 0);
      for (let t = 60; t < run.length; t++, k++) {
        const v = vs[k]!;
        expect(v.openTime).toBe(run[t]!.openTime);
        // Spot-check the full comparison every 97th bar; finiteness on all.
        if (t % 97 === 0) {
          FEATURE_NAMES.forEach((name, i) => expectNear(v.values[i]!, ref[t]!.values[name]!, `${name} at ${v.openTime}`));
          ref[t]!.rows.flat().forEach((x, j) => expectNear(v.window[j]!, x, `window cell ${j} at ${v.openTime}`));
        }
      }
    }
    expect(vs.every((v) => v.values.every(Number.isFinite) && v.window.every(Number.isFinite))).toBe(true);
    const rsi = vs.map((v) => v.values[FEATURE_NAMES.indexOf('rsi_14')]!);
    expect(Math.min(...rsi)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...rsi)).toBeLessThanOrEqual(100);
  });
});
