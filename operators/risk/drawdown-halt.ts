import type { OperatorFunction } from 'rxjs';
import { map, scan } from 'rxjs/operators';
import type { Equity } from '../../schemas/equity.ts';
import { initialDrawdownClock, isoWeekIndex, tickDrawdownClock, utcDayIndex, type DrawdownClock } from './drawdown-clock.ts';
import { withDefaults } from './with-defaults.ts';

/** Drawdown halt thresholds, fractions of the peak equity of the day or week. */
export interface HaltConfig {
  readonly dailyDrawdownHalt: number;
  readonly weeklyDrawdownHalt: number;
}

/** Defaults: halt at a 15% daily or a 25% weekly drawdown. */
export const HALT_DEFAULTS: HaltConfig = Object.freeze({ dailyDrawdownHalt: 0.15, weeklyDrawdownHalt: 0.25 });

/** Drawdown bookkeeping per calendar period (the shared drawdown clock) plus the latched halts; immutable. */
export interface HaltState extends DrawdownClock {
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
  return { ...initialDrawdownClock(), haltedDay: Number.NaN, haltedWeek: Number.NaN, haltDrawdownDay: 0, haltDrawdownWeek: 0 };
}

/**
 * Takes an equity point. Drawdown is measured by the shared drawdown clock from the intraday (intraweek) PEAK, where
 * each new UTC day (ISO week) starts its peak at the equity carried in from before the boundary. Crossing a threshold
 * latches a halt for the rest of that calendar day (week). A point older than the current day never moves the calendar back.
 */
export function stepHalt(state: HaltState, point: Pick<Equity, 'tsEvent' | 'equity'>, config: HaltConfig = HALT_DEFAULTS): HaltState {
  const c = tickDrawdownClock(state, point.tsEvent, point.equity);
  const dayHit = c.drawdownDay >= config.dailyDrawdownHalt && state.haltedDay !== c.day;
  const weekHit = c.drawdownWeek >= config.weeklyDrawdownHalt && state.haltedWeek !== c.week;
  return {
    ...c,
    haltedDay: dayHit ? c.day : state.haltedDay,
    haltedWeek: weekHit ? c.week : state.haltedWeek,
    haltDrawdownDay: dayHit ? c.drawdownDay : state.haltDrawdownDay,
    haltDrawdownWeek: weekHit ? c.drawdownWeek : state.haltDrawdownWeek,
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
  const cfg = withDefaults(HALT_DEFAULTS, config);
  return (source) =>
    source.pipe(
      scan((acc: { s: HaltState; t: number }, e: Equity) => ({ s: stepHalt(acc.s, e, cfg), t: e.tsEvent }), { s: initialHaltState(), t: 0 }),
      map(({ s, t }) => haltAt(s, t, cfg)),
    );
}
