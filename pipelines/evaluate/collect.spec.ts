import { lastValueFrom, Subject } from 'rxjs';
import { filter, map, toArray } from 'rxjs/operators';
import { describe, expect, it } from 'vitest';
import { FakeModel } from '../../models/testing/fake-model.ts';
import { DEFAULT_LABEL, labelOf } from '../../operators/ensemble/scoring.ts';
import { featureIndex } from '../../operators/features/feature-set.ts';
import type { Bar } from '../../schemas/bar.ts';
import type { FeatureVector } from '../../schemas/feature-vector.ts';
import type { SourceRecord } from '../../schemas/source-record.ts';
import type { Trade } from '../../schemas/trade.ts';
import { loadConfig } from '../config.ts';
import { featuresEpic } from '../features/epic.ts';
import { ingestEpic } from '../ingest/epic.ts';
import { ReplayScheduler } from '../replay-scheduler.ts';
import { openMarket } from '../run/market.ts';
import { collectScoredRows } from './collect.ts';
import { EvaluationError } from './errors.ts';

const config = loadConfig({ env: {}, flags: { run: { symbols: ['BTC/USDT', 'ETH/USDT'], syntheticDays: '0.25', seed: '3' } } });
const H = 10;
const label = { ...DEFAULT_LABEL, horizonBars: H, k: 0.4 };

/** The market's feature vectors, computed apart from collectScoredRows (ingest and features only). */
async function vectorsOf(): Promise<FeatureVector[]> {
  const market = await openMarket(config);
  const scheduler = new ReplayScheduler(market.fromMs);
  const trades = new Subject<SourceRecord<Trade>>();
  const bars = ingestEpic({ trades }, { scheduler, allowedLatenessMs: config.market.allowedLatenessMs, symbols: market.instruments }).pipe(
    filter((o) => o.topic === 'md.bars.1m.v1'),
    map((o) => o.value as Bar),
  );
  const all = lastValueFrom(featuresEpic({ bars }, { scheduler }).pipe(map((o) => o.value as FeatureVector), toArray()));
  for await (const chunk of market.chunks()) {
    for (const item of chunk) {
      scheduler.setTime(item.tsEvent);
      if (item.kind === 'trade') trades.next(item.record);
    }
  }
  trades.complete();
  return all;
}

const softmax = (a: number, b: number, c: number): [number, number, number] => {
  const e = [Math.exp(a), Math.exp(b), Math.exp(c)];
  const s = e[0]! + e[1]! + e[2]!;
  return [e[0]! / s, e[1]! / s, e[2]! / s];
};

describe('collectScoredRows', () => {
  it('labels every vector by its forward return, batches the models and blends the champions by their weights', async () => {
    // A feature model leaning on ret_15, a window model on the window's first value, a shadow that must not vote.
    const a = new FakeModel({ member: 'a', probabilities: (x) => softmax(-100 * x[2]!, 0, 100 * x[2]!) });
    const b = new FakeModel({ member: 'b', input: 'window', probabilities: (w) => softmax(0, 50 * Math.abs(w[0]!), 0.2) });
    const s = new FakeModel({ member: 'a', version: 'v9', role: 'SHADOW', probabilities: () => [1, 0, 0] });
    const rows = await collectScoredRows(await openMarket(config), [a, b, s], {
      label,
      allowedLatenessMs: config.market.allowedLatenessMs,
      weights: { a: 3, b: 1 },
      batchRows: 100,
    });
    const vectors = await vectorsOf();
    expect(rows.counts.vectors).toBe(vectors.length);
    expect(rows.counts.rejected).toBe(0);
    expect(rows.counts.ingestDeadLetters).toBe(0);
    // Every vector is labelled except the last H of each symbol (no bar H later).
    expect(rows.counts.unlabelled).toBe(2 * H);
    expect(rows.n).toBe(vectors.length - 2 * H);

    // Recompute each row's label from the vectors' closes, apart from the forward-return operator.
    const byKey = new Map(vectors.map((v) => [`${v.symbol}@${v.openTime}`, v]));
    const vol = featureIndex('rvol_30');
    for (let i = 0; i < rows.n; i++) {
      const inst = rows.instruments[rows.instrument[i]!]!;
      const v = byKey.get(`${inst.symbol}@${rows.openTime[i]}`)!;
      const ahead = byKey.get(`${inst.symbol}@${rows.openTime[i]! + H * 60_000}`)!;
      const fwd = Math.log(ahead.close / v.close);
      expect(rows.fwdRet[i]).toBeCloseTo(fwd, 12);
      expect(rows.label[i]).toBe(labelOf(fwd, v.values[vol]!, label));
      expect(rows.ret1[i]).toBe(v.values[featureIndex('ret_1')]);
      const pa = softmax(-100 * v.values[2]!, 0, 100 * v.values[2]!);
      const pb = softmax(0, 50 * Math.abs(v.window[0]!), 0.2);
      for (let c = 0; c < 3; c++) {
        expect(rows.modelProbs[0]![i * 3 + c]).toBeCloseTo(pa[c]!, 6);
        expect(rows.modelProbs[1]![i * 3 + c]).toBeCloseTo(pb[c]!, 6);
        expect(rows.modelProbs[2]![i * 3 + c]).toBe(c === 0 ? 1 : 0);
        // Champions only, weights 3 : 1; the shadow's certainty of DOWN does not count.
        expect(rows.ensembleProbs[i * 3 + c]).toBeCloseTo((3 * rows.modelProbs[0]![i * 3 + c]! + rows.modelProbs[1]![i * 3 + c]!) / 4, 12);
      }
    }
    // Many rows per predict() call, at least a batch of 100 each except the last.
    const calls = a.calls.map((c) => c.rows);
    expect(calls.reduce((x, y) => x + y, 0)).toBe(rows.n);
    expect(calls.slice(0, -1).every((r) => r >= 100)).toBe(true);
    expect(b.calls.map((c) => c.rows)).toEqual(calls);
  });

  it('refuses models with no champion', async () => {
    const shadow = new FakeModel({ member: 'a', role: 'SHADOW', probabilities: () => [0.2, 0.6, 0.2] });
    await expect(collectScoredRows(await openMarket(config), [shadow], { label, allowedLatenessMs: 1000 })).rejects.toThrow(EvaluationError);
  });
});
