import type { OperatorFunction } from 'rxjs';
import { map, scan } from 'rxjs/operators';
import type { Equity } from '../../schemas/equity.ts';

/** Milliseconds in a day. */
export const DAY_MS = 86_400_000;
/** Milliseconds in a week. */
export const WEEK_MS = 7 * DAY_MS;
/** 1970-01-05T00:00Z, the first Monday after the epoch (a Thursday): ISO weeks start on Mondays at 00:00 UTC. */
const FIRST_MONDAY_MS = 4 * DAY_MS;

/** Index of the calendar UTC day holding t (days since 1970-01-01). */
export function utcDayIndex(t: number): number {
  return Math.floor(t / DAY_MS);
}

/** Index of the ISO week (Monday 00:00 UTC to the next Monday) holding t, counted from 1970-01-05. */
export function isoWeekIndex(t: number): number {
  return Math.floor((t - FIRST_MONDAY_MS) / WEEK_MS);
}

/** Drawdown halt thresholds, fractions of the peak equity of the day or week. */
export interface HaltConfig {
  readonly dailyDrawdownHalt: number;
  readonly weeklyDrawdownHalt: number;
}

/** Defaults: halt at a 15% daily or a 25% weekly drawdown. */
export const HALT_DEFAULTS: HaltConfig = Object.freeze({ dailyDrawdownHalt: 0.15, weeklyDrawdownHalt: 0.25 });

/** Drawdown bookkeeping per calendar period; immutable. */
export interface HaltState {
  /** UTC day and ISO week of the latest equity point; NaN before the first. */
  readonly day: number;
  readonly week: number;
  /** Highest equity of the current day and week, starting from the equity carried in at the period's start. */
  readonly dayPeak: number;
  readonly weekPeak: number;
  /** Latest equity; NaN before the first point. */
  readonly equity: number;
  readonly drawdownDay: number;
  readonly drawdownWeek: number;
  /** The day and week in which a halt was triggered; NaN when none. A halt lasts until its period ends. */
  readonly haltedDay: number;
  readonly haltedWeek: number;
  /** Drawdown that triggered each halt (for the deny detail). */
  readonly haltDrawdownDay: number;
  readonly haltDrawdownWeek: number;
}

/** Whether an intent at a given time is halted, and why. */
export interface HaltView {
  readonly daily: boolean;
  readonly weekly: boolean;
  readonly drawdownDay: number;
  readonly drawdownWeek: number;
  readonly detail: string;
}

/** Nothing seen yet. */
export function initialHaltState(): HaltState {
  return {
    day: Number.NaN,
    week: Number.NaN,
    dayPeak: Number.NaN,
    weekPeak: Number.NaN,
    equity: Number.NaN,
    drawdownDay: 0,
    drawdownWeek: 0,
    haltedDay: Number.NaN,
    haltedWeek: Number.NaN,
    haltDrawdownDay: 0,
    haltDrawdownWeek: 0,
  };
}

const drawdown = (equity: number, peak: number): number => (peak > 0 ? Math.max(0, 1 - equity / peak) : equity < 0 ? 1 : 0);

/**
 * Takes an equity point. Drawdown is measured from the intraday (intraweek) PEAK, where each new UTC day (ISO week)
 * starts its peak at the equity carried in from before the boundary, then raises it with every higher point. Crossing
 * a threshold latches a halt for the rest of that calendar day (week). A point older than the current day is only
 * taken as equity, never to move the calendar back.
 */
export function stepHalt(state: HaltState, point: Pick<Equity, 'tsEvent' | 'equity'>, config: HaltConfig = HALT_DEFAULTS): HaltState {
  const e = point.equity;
  const day = utcDayIndex(point.tsEvent);
  const week = isoWeekIndex(point.tsEvent);
  const first = Number.isNaN(state.day);
  const carried = first ? e : state.equity;
  const newDay = first || day > state.day;
  const newWeek = first || week > state.week;
  const dayPeak = Math.max(newDay ? carried : state.dayPeak, e);
  const weekPeak = Math.max(newWeek ? carried : state.weekPeak, e);
  const drawdownDay = drawdown(e, dayPeak);
  const drawdownWeek = drawdown(e, weekPeak);
  const curDay = newDay ? day : state.day;
  const curWeek = newWeek ? week : state.week;
  const dayHit = drawdownDay >= config.dailyDrawdownHalt && state.haltedDay !== curDay;
  const weekHit = drawdownWeek >= config.weeklyDrawdownHalt && state.haltedWeek !== curWeek;
  return {
    day: curDay,
    week: curWeek,
    dayPeak,
    weekPeak,
    equity: e,
    drawdownDay,
    drawdownWeek,
    haltedDay: dayHit ? curDay : state.haltedDay,
    haltedWeek: weekHit ? curWeek : state.haltedWeek,
    haltDrawdownDay: dayHit ? drawdownDay : state.haltDrawdownDay,
    haltDrawdownWeek: weekHit ? drawdownWeek : state.haltDrawdownWeek,
  };
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

/** Whether an intent at time t is halted: only while t is in the same UTC day (ISO week) as the halt. */
export function haltAt(state: HaltState, t: number, config: HaltConfig = HALT_DEFAULTS): HaltView {
  const weekly = state.haltedWeek === isoWeekIndex(t);
  const daily = state.haltedDay === utcDayIndex(t);
  const detail = weekly
    ? `weekly drawdown ${pct(state.haltDrawdownWeek)} >= ${pct(config.weeklyDrawdownHalt)}: halted until Monday 00:00 UTC`
    : daily
      ? `daily drawdown ${pct(state.haltDrawdownDay)} >= ${pct(config.dailyDrawdownHalt)}: halted until 00:00 UTC`
      : '';
  return { daily, weekly, drawdownDay: state.drawdownDay, drawdownWeek: state.drawdownWeek, detail };
}

/** Halt status after each equity point, as of that point's time. */
export function drawdownHalts(config: Partial<HaltConfig> = {}): OperatorFunction<Equity, HaltView> {
  const cfg: HaltConfig = { ...HALT_DEFAULTS, ...config };
  return (source) =>
    source.pipe(
      scan((acc: { s: HaltState; t: number }, e: Equity) => ({ s: stepHalt(acc.s, e, cfg), t: e.tsEvent }), { s: initialHaltState(), t: 0 }),
      map(({ s, t }) => haltAt(s, t, cfg)),
    );
}
