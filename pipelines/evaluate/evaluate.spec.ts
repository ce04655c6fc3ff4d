import { describe, expect, it } from 'vitest';
import { expectedCalibrationError, logLoss, predictedClass, type ClassIndex } from '../../operators/ensemble/scoring.ts';
import type { EvalMetric } from '../../schemas/eval-metric.ts';
import { smoothedShares } from './baselines.ts';
import { evaluateScopes, reliabilityBins, signalReturn, type ScopeInput, type ScoredRows } from './evaluate.ts';

const MIN = 60_000;
const H = 5;
const COST = 0.0012;
const START = Date.UTC(2025, 0, 31, 22, 0); // two hours before February: two months, two month folds

/** A seeded generator (LCG), so the fixture is the same on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** 2 instruments x 240 bars; probabilities of three scopes loosely tied to the label so scores differ. */
function fixture() {
  const r = rng(7);
  const n = 480;
  const rows: ScoredRows & { instrument: number[]; openTime: number[]; fwdRet: number[]; label: number[]; ret1: number[] } = {
    n,
    instruments: [
      { exchange: 'x', symbol: 'BBB/USDT' },
      { exchange: 'x', symbol: 'AAA/USDT' },
    ],
    instrument: [],
    openTime: [],
    fwdRet: [],
    label: [],
    ret1: [],
  };
  const probs = () => new Float64Array(n * 3);
  const p = { ensemble: probs(), a: probs(), b: probs() };
  for (let i = 0; i < n; i++) {
    rows.instrument.push(i % 2);
    rows.openTime.push(START + Math.floor(i / 2) * MIN);
    const fwd = (r() - 0.5) * 0.02;
    rows.fwdRet.push(fwd);
    rows.label.push(fwd > 0.003 ? 2 : fwd < -0.003 ? 0 : 1);
    rows.ret1.push(r() < 0.1 ? 0 : r() - 0.5);
    for (const [k, arr] of Object.entries(p)) {
      const y = rows.label[i]!;
      const sharp = k === 'a' ? 0.5 : k === 'b' ? 0.1 : 0.3;
      const raw = [r(), r(), r()].map((v, c) => v + (c === y ? sharp : 0));
      const sum = raw[0]! + raw[1]! + raw[2]!;
      arr.set(raw.map((v) => v / sum), i * 3);
    }
  }
  // Member a was trained on the first hour: its rows there are in-sample, and so are the ensemble's.
  const aIn = Uint8Array.from(rows.openTime, (t) => (t < START + 60 * MIN ? 1 : 0));
  const none = new Uint8Array(n);
  const scopes: ScopeInput[] = [
    { scope: 'ensemble', kind: 'ensemble', modelVersion: 'a@v1+b@v2', probs: p.ensemble, inSample: aIn, cardCounts: [30, 40, 30] },
    { scope: 'a', kind: 'member', modelVersion: 'v1', probs: p.a, inSample: aIn, cardCounts: [30, 40, 30] },
    { scope: 'b', kind: 'member', modelVersion: 'v2', probs: p.b, inSample: none, cardCounts: [20, 60, 20] },
  ];
  return { rows, scopes, p, aIn };
}

const settings = { runId: 'evalrun-test', horizonBars: H, barMs: MIN, folds: { kind: 'month' } as const, roundTripCost: COST, tsEvent: START + 240 * MIN };

describe('evaluateScopes', () => {
  const { rows, scopes, p, aIn } = fixture();
  const result = evaluateScopes(rows, scopes, settings);
  const find = (scope: string, symbol: string, month: string, fold: number): EvalMetric | undefined =>
    result.metrics.find((m) => m.scope === scope && m.symbol === symbol && m.month === month && m.fold === fold);

  it('cuts the period into month folds and writes every slice of every scope', () => {
    expect(result.folds.map((f) => f.label)).toEqual(['2025-01', '2025-02']);
    expect(result.foldRows).toEqual([240, 240]);
    for (const scope of ['ensemble', 'a', 'b']) {
      for (const symbol of ['*', 'AAA/USDT', 'BBB/USDT']) {
        expect(find(scope, symbol, '*', -1), `${scope} ${symbol}`).toBeDefined();
        expect(find(scope, symbol, '2025-01', -1)).toBeDefined();
        expect(find(scope, symbol, '2025-02', -1)).toBeDefined();
        expect(find(scope, symbol, '*', 1)).toBeDefined();
        expect(find(scope, symbol, '*', 2)).toBeDefined();
      }
    }
    expect(result.metrics).toHaveLength(3 * 3 * 5);
    // Symbols sorted, * first, within each scope.
    expect(result.metrics.filter((m) => m.scope === 'b' && m.month === '*' && m.fold === -1).map((m) => m.symbol)).toEqual(['*', 'AAA/USDT', 'BBB/USDT']);
  });

  it('makes the * rows the sum over symbols, and the months and folds the split of the total', () => {
    for (const scope of ['ensemble', 'a', 'b']) {
      const all = find(scope, '*', '*', -1)!;
      const bySymbol = ['AAA/USDT', 'BBB/USDT'].map((s) => find(scope, s, '*', -1)!);
      const byMonth = ['2025-01', '2025-02'].map((m) => find(scope, '*', m, -1)!);
      const byFold = [1, 2].map((f) => find(scope, '*', '*', f)!);
      for (const parts of [bySymbol, byMonth, byFold]) {
        expect(parts.reduce((s, m) => s + m.rows, 0)).toBe(all.rows);
        expect(parts.reduce((s, m) => s + m.trades, 0)).toBe(all.trades);
        expect(parts.reduce((s, m) => s + m.pnl, 0)).toBeCloseTo(all.pnl, 12);
        expect(parts.reduce((s, m) => s + m.logLoss * m.rows, 0) / all.rows).toBeCloseTo(all.logLoss, 12);
      }
    }
  });

  it('leaves a model\'s in-sample rows out of its scores only', () => {
    const excluded = aIn.reduce((s, v) => s + v, 0);
    expect(excluded).toBe(120);
    expect(find('a', '*', '*', -1)!.rows).toBe(480 - 120);
    expect(find('ensemble', '*', '*', -1)!.rows).toBe(480 - 120);
    expect(find('b', '*', '*', -1)!.rows).toBe(480);
    expect(result.scopes.map((s) => [s.scope, s.kind, s.inSampleRows])).toEqual([
      ['ensemble', 'ensemble', 120],
      ['a', 'member', 120],
      ['b', 'member', 480 - 480],
      ['class prior', 'baseline', 120],
      ['last-return sign', 'baseline', 120],
    ]);
  });

  it('scores like a direct computation with the shared scoring functions', () => {
    // Member a, symbol AAA/USDT (instrument 1), January.
    const idx = [...Array(480).keys()].filter((i) => rows.instrument[i] === 1 && !aIn[i] && rows.openTime[i]! < Date.UTC(2025, 1, 1));
    const y = (i: number): ClassIndex => rows.label[i] as ClassIndex;
    const pa = (i: number): [number, number, number] => [p.a[i * 3]!, p.a[i * 3 + 1]!, p.a[i * 3 + 2]!];
    const mean = (f: (i: number) => number): number => idx.reduce((s, i) => s + f(i), 0) / idx.length;
    const nets = idx.map((i) => {
      const c = predictedClass(...pa(i));
      return c === 1 ? null : (c === 2 ? 1 : -1) * (Math.exp(rows.fwdRet[i]!) - 1) - COST;
    });
    const traded = nets.filter((x): x is number => x !== null);
    const card = smoothedShares([30, 40, 30]);
    const m = find('a', 'AAA/USDT', '2025-01', -1)!;
    expect(m).toMatchObject({ runId: 'evalrun-test', modelVersion: 'v1', exchange: 'x', rows: idx.length, trades: traded.length });
    expect(m.logLoss).toBeCloseTo(mean((i) => logLoss(...pa(i), y(i))), 12);
    expect(m.accuracy).toBeCloseTo(mean((i) => (predictedClass(...pa(i)) === y(i) ? 1 : 0)), 12);
    expect(m.ece).toBeCloseTo(expectedCalibrationError(idx.flatMap(pa), idx.map(y)), 12);
    expect(m.pnl).toBeCloseTo(traded.reduce((s, x) => s + x, 0), 12);
    expect(m.hitRate).toBeCloseTo(traded.filter((x) => x > 0).length / traded.length, 12);
    // January is the first fold: both baselines are the card prior.
    expect(m.priorLogLoss).toBeCloseTo(mean((i) => logLoss(...card, y(i))), 12);
    expect(m.lastSignLogLoss).toBeCloseTo(m.priorLogLoss, 12);
    expect(m.tsEvent).toBe(settings.tsEvent);
    expect(m.tsInit).toBe(settings.tsEvent);
  });

  it('refits the baselines for the second fold on the labels known before it', () => {
    const fits = result.scopes.find((s) => s.scope === 'b')!.baselineFits;
    expect(fits[0]!.source).toBe('card');
    expect(fits[0]!.prior).toEqual(smoothedShares([20, 60, 20]));
    expect(fits[1]!.source).toBe('data');
    // January rows whose label closed by midnight: open times up to 23:55 (H = 5), 2 instruments.
    expect(fits[1]!.fittedRows).toBe(2 * (120 - H + 1));
    const feb = find('b', '*', '2025-02', -1)!;
    expect(feb.lastSignLogLoss).not.toBeCloseTo(feb.priorLogLoss, 6);
  });

  it('derives unique ids from the run id and the slice: the same run gives the same ids', () => {
    const ids = result.metrics.map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(evaluateScopes(rows, scopes, settings).metrics.map((m) => m.id)).toEqual(ids);
    const other = evaluateScopes(rows, scopes, { ...settings, runId: 'evalrun-other' }).metrics.map((m) => m.id);
    expect(other.some((id) => ids.includes(id))).toBe(false);
  });

  it('draws a reliability diagram whose weighted gaps are the ECE, a confusion matrix and an equity curve ending at pnl / symbols', () => {
    for (const s of result.scopes) {
      const bins = s.reliability;
      expect(bins).toHaveLength(15);
      const n = bins.reduce((a, b) => a + b.count, 0);
      expect(n).toBe(s.total.rows);
      const ece = bins.reduce((a, b) => a + (b.count > 0 ? (b.count / n) * Math.abs(b.accuracy - b.confidence) : 0), 0);
      expect(ece).toBeCloseTo(s.total.ece, 12);
      expect(s.confusion.flat().reduce((a, b) => a + b, 0)).toBe(s.total.rows);
      const hits = s.confusion[0]![0]! + s.confusion[1]![1]! + s.confusion[2]![2]!;
      expect(hits / s.total.rows).toBeCloseTo(s.total.accuracy, 12);
      if (s.total.trades > 0) {
        expect(s.equity.at(-1)!.v).toBeCloseTo(s.total.pnl / 2, 12);
        expect(s.equity.every((q, k) => k === 0 || q.t > s.equity[k - 1]!.t)).toBe(true);
      }
    }
    // The class prior predicts the card's largest class (FLAT) in January, so it trades only in February, where its
    // refit on January's labels (more UP and DOWN than FLAT) makes it take a side.
    const prior = result.scopes.find((s) => s.scope === 'class prior')!;
    expect(prior.total.trades).toBe(240);
    expect(prior.equity[0]!.t).toBeGreaterThanOrEqual(Date.UTC(2025, 1, 1) + H * MIN);
  });
});

describe('signalReturn', () => {
  it('is side x (exp(fwdRet) - 1) minus the round-trip cost, none for FLAT', () => {
    expect(signalReturn(2, Math.log(1.01), 0.001)).toBeCloseTo(0.009, 15);
    expect(signalReturn(0, Math.log(1.01), 0.001)).toBeCloseTo(-0.011, 15);
    expect(signalReturn(1, 0.5, 0.001)).toBeNull();
  });
});

describe('reliabilityBins', () => {
  it('bins the top label by its probability and counts hits', () => {
    const bins = reliabilityBins([0.1, 0.18, 0.72, 0.5, 0.3, 0.2, 0.34, 0.33, 0.33], [2, 1, 0], 10);
    expect(bins[7]).toMatchObject({ count: 1, accuracy: 1 });
    expect(bins[7]!.confidence).toBeCloseTo(0.72, 12);
    expect(bins[5]).toMatchObject({ count: 1, accuracy: 0 });
    expect(bins[3]).toMatchObject({ count: 1, accuracy: 1 });
    expect(bins.reduce((a, b) => a + b.count, 0)).toBe(3);
  });
});
