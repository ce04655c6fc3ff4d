import { describe, expect, it } from 'vitest';
import { DAY_MS, drawdown, initialDrawdownClock, isoWeekIndex, isoWeekStart, tickDrawdownClock, utcDayIndex, utcDayStart, WEEK_MS, type DrawdownClock } from './drawdown-clock.ts';

const at = (d: number, h = 0, m = 0, s = 0, ms = 0): number => Date.UTC(2024, 0, d, h, m, s, ms); // January 2024: the 1st is a Monday

const feed = (points: readonly [number, number][], from: DrawdownClock = initialDrawdownClock()): DrawdownClock =>
  points.reduce((c, [t, e]) => tickDrawdownClock(c, t, e), from);

describe('calendar: utcDayIndex / isoWeekIndex / utcDayStart / isoWeekStart', () => {
  it('splits days at 00:00 UTC', () => {
    expect(new Date(at(7)).getUTCDay()).toBe(0); // Sunday
    expect(utcDayIndex(at(7, 23, 59, 59, 999))).toBe(utcDayIndex(at(7)));
    expect(utcDayIndex(at(8))).toBe(utcDayIndex(at(7)) + 1);
    expect(utcDayIndex(at(8))).toBe((at(8) - Date.UTC(1970, 0, 1)) / DAY_MS);
    expect(utcDayStart(at(8, 13, 45))).toBe(at(8));
  });

  it('splits ISO weeks at Monday 00:00 UTC', () => {
    expect(new Date(Date.UTC(1970, 0, 5)).getUTCDay()).toBe(1); // the first Monday after the epoch
    expect(isoWeekIndex(Date.UTC(1970, 0, 5))).toBe(0);
    expect(isoWeekIndex(Date.UTC(1970, 0, 4, 23, 59))).toBe(-1);
    expect(isoWeekIndex(at(1))).toBe(isoWeekIndex(at(7, 23, 59, 59, 999))); // Monday 1st .. Sunday 7th
    expect(isoWeekIndex(at(8))).toBe(isoWeekIndex(at(7, 23, 59)) + 1);
    expect(isoWeekIndex(at(8))).toBe((at(8) - Date.UTC(1970, 0, 5)) / WEEK_MS);
    // 2025-05-08 is a Thursday; its ISO week starts on Monday 2025-05-05, and a Sunday belongs to the week before Monday.
    expect(isoWeekStart(Date.UTC(2025, 4, 8, 13, 45))).toBe(Date.UTC(2025, 4, 5));
    expect(isoWeekStart(Date.UTC(2025, 4, 5))).toBe(Date.UTC(2025, 4, 5));
    expect(isoWeekStart(Date.UTC(2025, 4, 11, 23, 59))).toBe(Date.UTC(2025, 4, 5));
    expect(isoWeekStart(Date.UTC(2025, 4, 12))).toBe(Date.UTC(2025, 4, 12));
  });
});

describe('drawdown', () => {
  it('is 1 - equity / reference within 0..1', () => {
    expect(drawdown(8_400, 10_000)).toBeCloseTo(0.16, 12);
    expect(drawdown(11_000, 10_000)).toBe(0);
    expect(drawdown(-5, 100)).toBe(1);
    expect(drawdown(-5, 0)).toBe(1);
    expect(drawdown(0, 0)).toBe(0);
  });
});

describe('tickDrawdownClock', () => {
  it('counts the loss of the bar stamped 00:00 in the new day: its reference is the equity carried in', () => {
    const c = feed([[at(2, 23, 59), 10_000], [at(3), 8_400]]);
    expect(c.day).toBe(utcDayIndex(at(3)));
    expect(c.dayPeak).toBe(10_000);
    expect(c.drawdownDay).toBeCloseTo(0.16, 12);
  });

  it('starts from the carried-in equity when one is given (the broker knows its initial equity)', () => {
    expect(feed([[at(3, 10), 9_000]], initialDrawdownClock(10_000)).drawdownDay).toBeCloseTo(0.1, 12);
    expect(feed([[at(3, 10), 9_000]]).drawdownDay).toBe(0);
  });

  it('starts the ISO week at Monday 00:00 from the equity carried in from Sunday', () => {
    const c = feed([[at(1), 10_000], [at(7, 23, 59), 9_000], [at(8), 8_100]]);
    expect(c.week).toBe(isoWeekIndex(at(8)));
    expect(c.weekPeak).toBe(9_000);
    expect(c.drawdownWeek).toBeCloseTo(0.1, 12);
  });

  it('never moves the calendar back on a late point', () => {
    const c = feed([[at(3), 10_000], [at(2, 23), 9_000]]);
    expect(c.day).toBe(utcDayIndex(at(3)));
    expect(c.drawdownDay).toBeCloseTo(0.1, 12);
  });
});
