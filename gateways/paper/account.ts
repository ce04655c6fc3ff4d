import { drawdown, initialDrawdownClock, tickDrawdownClock, type DrawdownClock } from '../../operators/risk/drawdown-clock.ts';
import type { Side } from '../../schemas/trade.ts';

/** Drawdowns of one equity point, 0..1. */
export interface Drawdowns {
  readonly day: number;
  readonly week: number;
  readonly max: number;
}

/**
 * Tracks drawdowns over a series of equity points with the drawdown clock that risk's halts use too: the day (week)
 * reference is the equity carried in from before the UTC day (ISO week) boundary, raised by every higher point since.
 * `max` is the largest drawdown from the running all-time peak seen so far.
 */
export class DrawdownTracker {
  private clock: DrawdownClock;
  private peak: number;
  private maxDd = 0;

  constructor(initialEquity: number) {
    this.clock = initialDrawdownClock(initialEquity);
    this.peak = initialEquity;
  }

  /** Adds an equity point at ts (non-decreasing) and returns its drawdowns. */
  update(ts: number, equity: number): Drawdowns {
    this.clock = tickDrawdownClock(this.clock, ts, equity);
    this.peak = Math.max(this.peak, equity);
    this.maxDd = Math.max(this.maxDd, drawdown(equity, this.peak));
    return { day: this.clock.drawdownDay, week: this.clock.drawdownWeek, max: this.maxDd };
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
