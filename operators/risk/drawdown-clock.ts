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

/** Start of the UTC day holding t. */
export function utcDayStart(t: number): number {
  return utcDayIndex(t) * DAY_MS;
}

/** Start of the ISO week (Monday 00:00 UTC) holding t. */
export function isoWeekStart(t: number): number {
  return isoWeekIndex(t) * WEEK_MS + FIRST_MONDAY_MS;
}

/** Drawdown of equity below a reference (peak), 0..1; 1 when the reference is not positive and equity is negative. */
export function drawdown(equity: number, reference: number): number {
  if (!(reference > 0)) return equity < 0 ? 1 : 0;
  return Math.min(1, Math.max(0, 1 - equity / reference));
}

/**
 * Day and ISO-week drawdown bookkeeping over a series of equity points; immutable. The one implementation behind both
 * the paper broker's Equity.drawdownDay/Week and risk's drawdown halts.
 */
export interface DrawdownClock {
  /** UTC day and ISO week of the latest point; NaN before the first. */
  readonly day: number;
  readonly week: number;
  /** Highest equity of the current day and week, starting from the equity carried in from before the boundary. */
  readonly dayPeak: number;
  readonly weekPeak: number;
  /** Latest equity (or the equity carried into the first point); NaN when none is known. */
  readonly equity: number;
  readonly drawdownDay: number;
  readonly drawdownWeek: number;
}

/** No point seen yet; `carriedIn` is the equity before the first point (the broker's initial equity), NaN if unknown. */
export function initialDrawdownClock(carriedIn = Number.NaN): DrawdownClock {
  return { day: Number.NaN, week: Number.NaN, dayPeak: Number.NaN, weekPeak: Number.NaN, equity: carriedIn, drawdownDay: 0, drawdownWeek: 0 };
}

/**
 * Takes an equity point at time t. Each new UTC day (ISO week) starts its peak at the equity carried in from before the
 * boundary, never at the point itself: a bar's tsEvent is its close, so the 23:59 bar lands on 00:00 and its own loss
 * belongs to the new day. The peak then rises with every higher point. A point older than the current day counts in
 * the current day and week: the calendar never moves back.
 */
export function tickDrawdownClock(c: DrawdownClock, t: number, equity: number): DrawdownClock {
  const day = utcDayIndex(t);
  const week = isoWeekIndex(t);
  const first = Number.isNaN(c.day);
  const carried = Number.isNaN(c.equity) ? equity : c.equity;
  const newDay = first || day > c.day;
  const newWeek = first || week > c.week;
  const dayPeak = Math.max(newDay ? carried : c.dayPeak, equity);
  const weekPeak = Math.max(newWeek ? carried : c.weekPeak, equity);
  return {
    day: newDay ? day : c.day,
    week: newWeek ? week : c.week,
    dayPeak,
    weekPeak,
    equity,
    drawdownDay: drawdown(equity, dayPeak),
    drawdownWeek: drawdown(equity, weekPeak),
  };
}
