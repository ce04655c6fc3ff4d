/**
 * The regime detector against the synthetic market's hidden regimes: trades -> bars -> feature vectors (the very
 * operators of the chain) -> RegimeDetector, each bar compared with the hidden regime of its symbol at the bar's close.
 * Thresholds come from a measurement on 4 symbols x 3 days, seeds 7, 8, 9 and 11 (see regime.ts REGIME_DEFAULTS):
 *   P(UP | trend-up) 0.57-0.61, P(UP | calm) 0.18-0.23, P(UP | trend-down) 0.08-0.10, and symmetric for DOWN;
 *   P(HIGH | volatile) 0.63-0.71, P(HIGH | not volatile) below 0.17 in every hidden regime;
 *   P(LOW | calm) 0.56-0.71, P(LOW | volatile) 0.05-0.07; P(RANGE | calm) 0.57-0.59, P(RANGE | trend) 0.32-0.37.
 * Each assertion keeps a margin of about half the measured gap, and each fails for a constant detector (every
 * conditional probability would be equal) as for one that ignores the data.
 */
import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { regimes, RegimeDetector } from '../operators/ensemble/regime.ts';
import { featureVectors } from '../operators/features/feature-vectors.ts';
import { tradesToBars } from '../operators/market/trades-to-bars.ts';
import type { Regime as Detected } from '../schemas/ensemble-signal.ts';
import type { FeatureVector } from '../schemas/feature-vector.ts';
import { REGIMES, syntheticRegimes, syntheticTrades, type Regime as Hidden, type SyntheticMarketOptions } from '../sources/synthetic-market.ts';

const DAY = 86_400_000;
const BAR = 60_000;
const OPTS: SyntheticMarketOptions = { symbols: 4, seed: 7, fromMs: Date.UTC(2024, 0, 1), toMs: Date.UTC(2024, 0, 1) + 3 * DAY };
const clock = { now: () => 0, schedule: () => { throw new Error('no timers here'); } } as unknown as Parameters<typeof tradesToBars>[0]['scheduler'];

type Table = Record<Hidden, { n: number; counts: Record<string, number> }>;

function hiddenAt(opts: SyntheticMarketOptions): (v: FeatureVector) => Hidden {
  const spans = syntheticRegimes(opts);
  const cursor = new Map<string, number>();
  // Vectors of a symbol come in time order: one moving index per symbol.
  return (v) => {
    const t = v.openTime + BAR - 1;
    let i = cursor.get(v.symbol) ?? spans.findIndex((s) => s.symbol === v.symbol);
    while (!(spans[i]!.fromMs <= t && t < spans[i]!.toMs)) i++;
    if (spans[i]!.symbol !== v.symbol) throw new Error(`no hidden regime for ${v.symbol} at ${t}`);
    cursor.set(v.symbol, i);
    return spans[i]!.regime;
  };
}

function tabulate(vectors: readonly FeatureVector[], detected: readonly Detected[], hidden: (v: FeatureVector) => Hidden): Table {
  const table = Object.fromEntries(REGIMES.map((r) => [r, { n: 0, counts: {} as Record<string, number> }])) as Table;
  vectors.forEach((v, i) => {
    const row = table[hidden(v)];
    row.n++;
    for (const k of [`vol ${detected[i]!.volatility}`, `trend ${detected[i]!.trend}`]) row.counts[k] = (row.counts[k] ?? 0) + 1;
  });
  return table;
}

const COLUMNS = ['vol LOW', 'vol NORMAL', 'vol HIGH', 'trend DOWN', 'trend RANGE', 'trend UP'];

function print(table: Table): void {
  const lines = [`${'hidden'.padEnd(11)} ${'bars'.padStart(6)}  ${COLUMNS.map((c) => c.padStart(11)).join(' ')}`];
  for (const r of REGIMES) {
    const row = table[r];
    lines.push(`${r.padEnd(11)} ${String(row.n).padStart(6)}  ${COLUMNS.map((c) => ((row.counts[c] ?? 0) / row.n).toFixed(3).padStart(11)).join(' ')}`);
  }
  console.log(`P(detected | hidden), synthetic market, ${OPTS.symbols as number} symbols x 3 days, seed ${OPTS.seed}\n${lines.join('\n')}`);
}

describe('regime detector on the synthetic market', () => {
  it('finds the hidden regimes far more often where they are than where they are not', async () => {
    const vectors = await lastValueFrom(
      from(syntheticTrades(OPTS)).pipe(tradesToBars({ allowedLatenessMs: 0, scheduler: clock }), featureVectors({ scheduler: clock }), toArray()),
    );
    expect(vectors.length).toBeGreaterThan(4 * 3 * 1400);
    const detector = new RegimeDetector();
    const detected = vectors.map((v) => detector.observe(v));
    // The operator form gives the same regimes.
    expect(await lastValueFrom(from(vectors).pipe(regimes(), toArray()))).toEqual(detected);

    const table = tabulate(vectors, detected, hiddenAt(OPTS));
    print(table);
    const p = (hidden: Hidden, column: string) => (table[hidden].counts[column] ?? 0) / table[hidden].n;
    for (const r of REGIMES) expect(table[r].n).toBeGreaterThan(1000);

    // Trend: the right sign most of the time, the wrong sign rarely, far more often in a trend than in a calm market.
    expect(p('trend-up', 'trend UP')).toBeGreaterThan(0.45);
    expect(p('trend-up', 'trend UP') - p('calm', 'trend UP')).toBeGreaterThan(0.2);
    expect(p('trend-up', 'trend UP')).toBeGreaterThan(3 * p('trend-down', 'trend UP'));
    expect(p('trend-down', 'trend DOWN')).toBeGreaterThan(0.45);
    expect(p('trend-down', 'trend DOWN') - p('calm', 'trend DOWN')).toBeGreaterThan(0.2);
    expect(p('trend-down', 'trend DOWN')).toBeGreaterThan(3 * p('trend-up', 'trend DOWN'));
    expect(p('calm', 'trend RANGE') - p('trend-up', 'trend RANGE')).toBeGreaterThan(0.1);
    expect(p('calm', 'trend RANGE') - p('trend-down', 'trend RANGE')).toBeGreaterThan(0.1);

    // Volatility: HIGH mostly in the volatile regime, LOW mostly in the calm one.
    expect(p('volatile', 'vol HIGH')).toBeGreaterThan(0.5);
    for (const r of ['calm', 'trend-up', 'trend-down'] as const) expect(p('volatile', 'vol HIGH')).toBeGreaterThan(3 * p(r, 'vol HIGH'));
    expect(p('calm', 'vol LOW')).toBeGreaterThan(0.4);
    expect(p('calm', 'vol LOW')).toBeGreaterThan(4 * p('volatile', 'vol LOW'));
  });
});
