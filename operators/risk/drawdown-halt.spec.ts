import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { Equity } from '../../schemas/equity.ts';
import { utcDayIndex } from './drawdown-clock.ts';
import { drawdownHalts, haltAt, initialHaltState, stepHalt, type HaltState } from './drawdown-halt.ts';

const at = (d: number, h = 0, m = 0, s = 0, ms = 0): number => Date.UTC(2024, 0, d, h, m, s, ms); // January 2024: the 1st is a Monday

function feed(points: readonly [number, number][], from: HaltState = initialHaltState()): HaltState {
  return points.reduce((s, [t, equity]) => stepHalt(s, { tsEvent: t, equity }), from);
}

describe('stepHalt / haltAt', () => {
  it('halts on a loss on Sunday 23:59 and lifts both halts at Monday 00:00', () => {
    const s = feed([
      [at(1), 10_000], // Monday: week and day peak 10 000
      [at(7, 12), 9_000], // Sunday: day peak carried in 10 000 -> 10%; week 10%
      [at(7, 23, 59), 7_400], // day 1 - 7400/10000 = 26% >= 15%; week 26% >= 25%
    ]);
    expect(s.drawdownDay).toBeCloseTo(0.26, 12);
    expect(s.drawdownWeek).toBeCloseTo(0.26, 12);
    const sunday = haltAt(s, at(7, 23, 59, 30));
    expect(sunday).toMatchObject({ weekly: true, daily: true, detail: 'weekly drawdown 26.0% >= 25.0%: halted until Monday 00:00 UTC' });
    expect(haltAt(s, at(8))).toMatchObject({ weekly: false, daily: false }); // a new day and week, before any new equity point
    const monday = stepHalt(s, { tsEvent: at(8), equity: 7_500 }); // peaks restart at the carried-in 7 400
    expect(monday.drawdownDay).toBe(0);
    expect(monday.drawdownWeek).toBe(0);
    expect(haltAt(monday, at(8, 0, 1))).toMatchObject({ weekly: false, daily: false, detail: '' });
  });

  it('holds a daily halt for the rest of the day even when equity recovers, and lifts it at midnight', () => {
    const s = feed([
      [at(3), 10_000],
      [at(3, 10), 8_400], // 16% >= 15%
      [at(3, 18), 10_000], // recovered: drawdown 0, halt stays
    ]);
    expect(s.drawdownDay).toBe(0);
    expect(haltAt(s, at(3, 18, 0, 30))).toMatchObject({ daily: true, weekly: false, detail: 'daily drawdown 16.0% >= 15.0%: halted until 00:00 UTC' });
    expect(haltAt(s, at(3, 23, 59, 59, 999)).daily).toBe(true);
    expect(haltAt(s, at(4)).daily).toBe(false);
  });

  it('measures from the intraday peak, not the day start', () => {
    const s = feed([
      [at(3), 10_000],
      [at(3, 6), 11_000],
      [at(3, 12), 9_300], // from the peak: 1 - 9300/11000 = 15.45% (from the start it would be 7%)
    ]);
    expect(s.drawdownDay).toBeCloseTo(1 - 9_300 / 11_000, 12);
    expect(haltAt(s, at(3, 12)).daily).toBe(true);
  });

  it('counts a loss at the boundary in the new day: its peak starts at the equity carried in', () => {
    const s = feed([
      [at(2, 23, 59), 10_000],
      [at(3), 8_400], // Wednesday 00:00: peak carried in 10 000 -> 16%
    ]);
    expect(haltAt(s, at(3, 0, 1)).daily).toBe(true);
    expect(haltAt(s, at(2, 23, 59, 30)).daily).toBe(false); // the halt belongs to Wednesday
  });

  it('halts the week on losses spread over days, each below the daily limit', () => {
    const s = feed([
      [at(1), 10_000], // Monday
      [at(2), 9_000], // Tuesday: day 10%, week 10%
      [at(3), 8_000], // Wednesday: day 1 - 8000/9000 = 11.1%, week 20%
      [at(4), 7_400], // Thursday: day 7.5%, week 26%
    ]);
    expect(s.drawdownDay).toBeCloseTo(0.075, 12);
    expect(haltAt(s, at(4, 1))).toMatchObject({ weekly: true, daily: false });
    expect(haltAt(s, at(7, 23, 59)).weekly).toBe(true); // still Sunday of the same week
    expect(haltAt(s, at(8)).weekly).toBe(false);
  });

  it('does not move the calendar back on a late point', () => {
    const s = feed([
      [at(3), 10_000],
      [at(2, 23), 9_000], // late, from Tuesday
    ]);
    expect(s.day).toBe(utcDayIndex(at(3)));
    expect(s.drawdownDay).toBeCloseTo(0.1, 12);
  });

  it('uses the configured thresholds', () => {
    const s = [[at(3), 10_000], [at(3, 1), 9_400]].reduce((st, [t, e]) => stepHalt(st, { tsEvent: t!, equity: e! }, { dailyDrawdownHalt: 0.05, weeklyDrawdownHalt: 0.5 }), initialHaltState());
    expect(haltAt(s, at(3, 2), { dailyDrawdownHalt: 0.05, weeklyDrawdownHalt: 0.5 }).daily).toBe(true); // 6% >= 5%
  });
});

describe('drawdownHalts operator (marbles)', () => {
  const eq = (tsEvent: number, equity: number): Equity => ({
    id: `eq-${tsEvent}`,
    tsEvent,
    tsInit: tsEvent,
    account: 'paper',
    equity,
    cash: equity,
    realizedPnl: 0,
    unrealizedPnl: 0,
    fees: 0,
    exposure: 0,
    openPositions: 0,
    drawdownDay: 0,
    drawdownWeek: 0,
    drawdownMax: 0,
  });

  it('emits the halt status as of each equity point', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      const src = cold('a-b-c|', { a: eq(at(7, 23), 10_000), b: eq(at(7, 23, 59), 8_125), c: eq(at(8), 8_125) });
      expectObservable(src.pipe(drawdownHalts())).toBe('x-y-z|', {
        x: { daily: false, weekly: false, drawdownDay: 0, drawdownWeek: 0, detail: '' },
        y: { daily: true, weekly: false, drawdownDay: 0.1875, drawdownWeek: 0.1875, detail: 'daily drawdown 18.8% >= 15.0%: halted until 00:00 UTC' }, // 1 - 8125/10000, exact in binary
        z: { daily: false, weekly: false, drawdownDay: 0, drawdownWeek: 0, detail: '' },
      });
    });
  });
});
