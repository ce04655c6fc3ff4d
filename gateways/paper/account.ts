import type { Side } from '../../schemas/trade.ts';

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;
/** 1970-01-05, the first Monday after the epoch: ISO weeks start on Mondays. */
const FIRST_MONDAY_MS = 4 * DAY_MS;

/** Start of the UTC day holding ts. */
export function utcDayStart(ts: number): number {
  return Math.floor(ts / DAY_MS) * DAY_MS;
}

/** Start of the ISO week (Monday 00:00 UTC) holding ts. */
export function isoWeekStart(ts: number): number {
  return Math.floor((ts - FIRST_MONDAY_MS) / WEEK_MS) * WEEK_MS + FIRST_MONDAY_MS;
}

function drawdown(ref: number, equity: number): number {
  if (!(ref > 0)) return 0;
  return Math.min(1, Math.max(0, (ref - equity) / ref));
}

/** Drawdowns of one equity point, 0..1. */
export interface Drawdowns {
  readonly day: number;
  readonly week: number;
  readonly max: number;
}

/**
 * Tracks drawdowns over a series of equity points. The day (week) reference is the larger of the equity at the UTC
 * day (ISO week) start and the peak since; the equity at the start is the point stamped exactly at the boundary, or
 * else the last equity before it. `max` is the largest drawdown from the running all-time peak seen so far.
 */
export class DrawdownTracker {
  private last: number;
  private peak: number;
  private maxDd = 0;
  private dayStart = Number.NaN;
  private dayRef = 0;
  private weekStart = Number.NaN;
  private weekRef = 0;

  constructor(initialEquity: number) {
    this.last = initialEquity;
    this.peak = initialEquity;
  }

  /** Adds an equity point at ts (non-decreasing) and returns its drawdowns. */
  update(ts: number, equity: number): Drawdowns {
    const ds = utcDayStart(ts);
    if (ds !== this.dayStart) {
      this.dayStart = ds;
      this.dayRef = ts === ds ? equity : this.last;
    }
    const ws = isoWeekStart(ts);
    if (ws !== this.weekStart) {
      this.weekStart = ws;
      this.weekRef = ts === ws ? equity : this.last;
    }
    this.dayRef = Math.max(this.dayRef, equity);
    this.weekRef = Math.max(this.weekRef, equity);
    this.peak = Math.max(this.peak, equity);
    this.maxDd = Math.max(this.maxDd, drawdown(this.peak, equity));
    this.last = equity;
    return { day: drawdown(this.dayRef, equity), week: drawdown(this.weekRef, equity), max: this.maxDd };
  }
}

/** Direction of an open position: +1 long, -1 short. */
export type Direction = 1 | -1;

/** The direction a fill on this side opens. */
export function directionOf(side: Side): Direction {
  return side === 'BUY' ? 1 : -1;
}

/** An open position of the paper account (linear, futures style: PnL = (exit - entry) * qty * direction). */
export interface OpenPosition {
  readonly positionId: string;
  readonly exchange: string;
  readonly symbol: string;
  readonly key: string;
  readonly dir: Direction;
  readonly leverage: number;
  /** Open base quantity, > 0 while the position is open. */
  qty: number;
  /** Total quantity bought (long) or sold (short) to open it. */
  entryFilled: number;
  avgEntry: number;
  mark: number;
  /** Realised PnL before fees. */
  realizedGross: number;
  /** Fees paid by this position's fills. */
  fees: number;
  stopPrice: number;
}

/** Unrealised PnL of a position at its mark. */
export function unrealizedOf(p: OpenPosition): number {
  return (p.mark - p.avgEntry) * p.qty * p.dir;
}

/** The paper account: cash moves only by realised PnL and fees (margin is not taken out of cash). */
export class Account {
  /** Cumulative realised PnL before fees. */
  realizedGross = 0;
  /** Cumulative fees. */
  fees = 0;
  /** Open positions by instrument key, in opening order. */
  readonly positions = new Map<string, OpenPosition>();

  constructor(readonly initialEquity: number) {}

  /** Initial equity + realised PnL - fees. */
  cash(): number {
    return this.initialEquity + this.realizedGross - this.fees;
  }

  /** Sum of the open positions' unrealised PnL at their marks. */
  unrealized(): number {
    let u = 0;
    for (const p of this.positions.values()) u += unrealizedOf(p);
    return u;
  }

  /** Cash + unrealised PnL. */
  equity(): number {
    return this.cash() + this.unrealized();
  }

  /** Gross notional of the open positions at their marks. */
  exposure(): number {
    let e = 0;
    for (const p of this.positions.values()) e += p.qty * p.mark;
    return e;
  }

  /** Margin held by the open positions: entry notional / leverage. */
  usedMargin(): number {
    let m = 0;
    for (const p of this.positions.values()) m += (p.qty * p.avgEntry) / p.leverage;
    return m;
  }

  /** Adds to (or opens) a position; returns it. */
  increase(p: OpenPosition, qty: number, price: number, fee: number): OpenPosition {
    p.avgEntry = (p.avgEntry * p.qty + price * qty) / (p.qty + qty);
    p.qty += qty;
    p.entryFilled += qty;
    p.fees += fee;
    this.fees += fee;
    if (!this.positions.has(p.key)) this.positions.set(p.key, p);
    return p;
  }

  /** Reduces a position by qty (<= its qty) at price; returns the realised PnL before fees. */
  reduce(p: OpenPosition, qty: number, price: number, fee: number): number {
    const pnl = (price - p.avgEntry) * qty * p.dir;
    p.qty -= qty;
    p.realizedGross += pnl;
    p.fees += fee;
    this.realizedGross += pnl;
    this.fees += fee;
    return pnl;
  }

  /** Removes a closed position. */
  close(p: OpenPosition): void {
    p.qty = 0;
    this.positions.delete(p.key);
  }
}
