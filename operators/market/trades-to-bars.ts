import { concatWith, defer, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { concatMap, filter, map } from 'rxjs/operators';
import { barId, type Bar } from '../../schemas/bar.ts';
import type { Trade } from '../../schemas/trade.ts';

/** Options of the bar aggregation. */
export interface TradesToBarsOptions {
  /** Bar length; bars are aligned on multiples of it in UTC. Default 60000 (md.bars.1m.v1). */
  readonly intervalMs?: number;
  /** How long after a bar's end trades for it are still accepted (event time, per instrument). */
  readonly allowedLatenessMs: number;
  /** Stamps tsInit of each bar. */
  readonly scheduler: SchedulerLike;
  /** Emit zero-volume bars for empty intervals between two bars with trades. Default true. */
  readonly fillGaps?: boolean;
  /** Longest run of empty intervals that is filled; a longer hole is left open (see tradesToBars). Default 60. */
  readonly maxGapFillBars?: number;
  /** Called with a trade whose bar was already emitted (it is dropped). validateTrades dead-letters these first. */
  readonly onLate?: (trade: Trade, barOpenTime: number) => void;
}

/** A trade reached the aggregator with a price or size that validation should have refused: corrupt state. */
export class CorruptTradeError extends Error {
  override readonly name = 'CorruptTradeError';
  readonly retriable = false;
  constructor(
    readonly tradeId: string,
    readonly field: 'price' | 'size' | 'tsEvent',
    readonly value: number,
  ) {
    super(`trade ${tradeId}: ${field} ${value} is not valid; trades must be validated before aggregation`);
  }
}

/** Interval label of a bar, e.g. 60000 -> '1m', 3600000 -> '1h'. */
export function intervalLabel(intervalMs: number): string {
  if (intervalMs % 86_400_000 === 0) return `${intervalMs / 86_400_000}d`;
  if (intervalMs % 3_600_000 === 0) return `${intervalMs / 3_600_000}h`;
  if (intervalMs % 60_000 === 0) return `${intervalMs / 60_000}m`;
  if (intervalMs % 1000 === 0) return `${intervalMs / 1000}s`;
  return `${intervalMs}ms`;
}


/** One bar being built; reused once emitted. */
interface Slot {
  active: boolean;
  openTime: number;
  /** Event times of the trades that set open and close: out-of-order trades keep both in event-time order. */
  openTs: number;
  closeTs: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  quoteVolume: number;
  buyVolume: number;
  trades: number;
}

interface Instrument {
  readonly exchange: string;
  readonly symbol: string;
  /** Next instrument with the same symbol on another exchange: one Map lookup per trade instead of two. */
  readonly sameSymbol: Instrument | null;
  /** Open bars; few (lateness / interval + 3), so a linear scan beats any structure. */
  readonly slots: Slot[];
  /** Slot of the last trade: most trades hit the same bar as the one before. */
  cur: Slot | null;
  /** Largest tsEvent seen: the instrument's event-time watermark. */
  watermark: number;
  /** Open time of the next bar to emit on the grid; NaN before the first bar. */
  nextOpen: number;
  /** Open time and close of the last emitted bar that had trades (gap fills repeat that close). */
  lastTradedOpen: number;
  lastClose: number;
}

function newSlot(): Slot {
  return { active: false, openTime: 0, openTs: 0, closeTs: 0, open: 0, high: 0, low: 0, close: 0, volume: 0, quoteVolume: 0, buyVolume: 0, trades: 0 };
}

/**
 * Trades to bars without RxJS: the engine behind `tradesToBars` and the benchmark's plain loop. All state is mutable
 * and allocated per instrument, not per trade; a trade allocates nothing unless it closes bars (then it allocates
 * those Bar messages and the array holding them).
 */
export class BarAggregator {
  private readonly intervalMs: number;
  private readonly interval: string;
  private readonly lateness: number;
  private readonly fillGaps: boolean;
  private readonly maxGap: number;
  private readonly bySymbol = new Map<string, Instrument>();
  /** Instruments in order of first trade: the deterministic order of the final flush. */
  private readonly instruments: Instrument[] = [];
  private last: Instrument | null = null;
  private out: Bar[] | null = null;

  constructor(private readonly opts: TradesToBarsOptions) {
    this.intervalMs = opts.intervalMs ?? 60_000;
    if (!Number.isInteger(this.intervalMs) || this.intervalMs <= 0) throw new RangeError(`intervalMs must be a positive integer, got ${this.intervalMs}`);
    if (!(opts.allowedLatenessMs >= 0)) throw new RangeError(`allowedLatenessMs must be >= 0, got ${opts.allowedLatenessMs}`);
    this.interval = intervalLabel(this.intervalMs);
    this.lateness = opts.allowedLatenessMs;
    this.fillGaps = opts.fillGaps ?? true;
    this.maxGap = opts.maxGapFillBars ?? 60;
  }

  /** Adds a trade; returns the bars it closes, in order (null when none, the common case). */
  push(t: Trade): Bar[] | null {
    const price = t.price;
    const size = t.size;
    const ts = t.tsEvent;
    if (!(price > 0 && price < Infinity)) throw new CorruptTradeError(t.tradeId, 'price', price);
    if (!(size >= 0 && size < Infinity)) throw new CorruptTradeError(t.tradeId, 'size', size);
    if (!Number.isFinite(ts)) throw new CorruptTradeError(t.tradeId, 'tsEvent', ts);
    const inst = this.instrument(t.exchange, t.symbol);
    const iv = this.intervalMs;
    const rem = ts % iv;
    const openTime = rem < 0 ? ts - rem - iv : ts - rem;
    if (openTime < inst.nextOpen) {
      this.opts.onLate?.(t, openTime);
      return null;
    }
    let slot = inst.cur;
    if (slot === null || !slot.active || slot.openTime !== openTime) slot = this.slotFor(inst, openTime, price, ts);
    if (price > slot.high) slot.high = price;
    if (price < slot.low) slot.low = price;
    // Equal times keep arrival order (the exchange's order); an out-of-order trade moves open or close only if it is
    // earlier or later in event time than the trades already in the bar.
    if (ts >= slot.closeTs) {
      slot.close = price;
      slot.closeTs = ts;
    } else if (ts < slot.openTs) {
      slot.open = price;
      slot.openTs = ts;
    }
    slot.volume += size;
    slot.quoteVolume += price * size;
    if (t.side === 'BUY') slot.buyVolume += size;
    slot.trades++;
    inst.cur = slot;
    // Advance after adding the trade: gap fills need to know where the next traded bar is, and the trade's own bar
    // (ending after ts) cannot close on its own watermark.
    if (ts <= inst.watermark) return null;
    inst.watermark = ts;
    this.out = null;
    this.advance(inst, ts - this.lateness);
    const out = this.out;
    this.out = null;
    return out;
  }

  /** Emits every open bar (and the gap fills between them), by open time, ties in order of the instruments' first trade. */
  flush(): Bar[] {
    this.out = [];
    for (const inst of this.instruments) this.advance(inst, Infinity);
    const out = this.out;
    this.out = null;
    // Array.prototype.sort is stable, so equal open times keep the instrument order.
    return out.sort((a, b) => a.openTime - b.openTime);
  }

  private instrument(exchange: string, symbol: string): Instrument {
    const last = this.last;
    if (last !== null && last.symbol === symbol && last.exchange === exchange) return last;
    const head = this.bySymbol.get(symbol);
    let inst = head;
    while (inst !== undefined && inst.exchange !== exchange) inst = inst.sameSymbol ?? undefined;
    if (inst === undefined) {
      const capacity = Math.floor(this.lateness / this.intervalMs) + 3;
      inst = {
        exchange,
        symbol,
        sameSymbol: head ?? null,
        slots: Array.from({ length: capacity }, newSlot),
        cur: null,
        watermark: -Infinity,
        nextOpen: Number.NaN,
        lastTradedOpen: Number.NaN,
        lastClose: Number.NaN,
      };
      this.bySymbol.set(symbol, inst);
      this.instruments.push(inst);
    }
    this.last = inst;
    return inst;
  }

  private slotFor(inst: Instrument, openTime: number, price: number, ts: number): Slot {
    let free: Slot | null = null;
    for (const s of inst.slots) {
      if (s.active) {
        if (s.openTime === openTime) return s;
      } else if (free === null) free = s;
    }
    // Open bars span at most lateness + two intervals of event time (the new trade's bar joins before the others close),
    // so the slots allocated up front suffice; grow anyway.
    if (free === null) {
      free = newSlot();
      inst.slots.push(free);
    }
    free.active = true;
    free.openTime = openTime;
    free.open = free.high = free.low = free.close = price;
    free.openTs = free.closeTs = ts;
    free.volume = free.quoteVolume = free.buyVolume = 0;
    free.trades = 0;
    return free;
  }

  /** Emits, in grid order, every bar of the instrument that ends at or before `limit` (watermark - lateness). */
  private advance(inst: Instrument, limit: number): void {
    const iv = this.intervalMs;
    for (;;) {
      // Fast path, taken by almost every trade: the next bar on the grid is still open.
      if (!(inst.nextOpen + iv <= limit) && !Number.isNaN(inst.nextOpen)) return;
      let first: Slot | null = null;
      for (const s of inst.slots) if (s.active && (first === null || s.openTime < first.openTime)) first = s;
      const next = Number.isNaN(inst.nextOpen) ? (first === null ? Number.NaN : first.openTime) : inst.nextOpen;
      // No bar after this point has trades yet: never invent trailing bars.
      if (first === null || !(next + iv <= limit)) return;
      if (first.openTime === next) {
        this.emit(inst, first.openTime, first.open, first.high, first.low, first.close, first.volume, first.quoteVolume, first.buyVolume, first.trades);
        first.active = false;
        inst.lastTradedOpen = next;
        inst.lastClose = first.close;
        inst.nextOpen = next + iv;
        continue;
      }
      const holeBars = (first.openTime - inst.lastTradedOpen) / iv - 1;
      if (this.fillGaps && holeBars <= this.maxGap) {
        const c = inst.lastClose;
        this.emit(inst, next, c, c, c, c, 0, 0, 0, 0);
        inst.nextOpen = next + iv;
        continue;
      }
      // A hole too long to fill (outage, halted market): skip the intervals that are closed, leaving the grid broken
      // on purpose so that consumers (features) see the gap; an interval still within lateness may yet get a trade.
      inst.nextOpen = limit === Infinity ? first.openTime : Math.min(first.openTime, limit - (((limit % iv) + iv) % iv));
    }
  }

  private emit(inst: Instrument, openTime: number, open: number, high: number, low: number, close: number, volume: number, quoteVolume: number, buyVolume: number, trades: number): void {
    const bar: Bar = {
      id: barId(inst.exchange, inst.symbol, this.interval, openTime),
      tsEvent: openTime + this.intervalMs,
      tsInit: this.opts.scheduler.now(),
      exchange: inst.exchange,
      symbol: inst.symbol,
      interval: this.interval,
      openTime,
      open,
      high,
      low,
      close,
      volume,
      quoteVolume,
      buyVolume,
      trades,
    };
    if (this.out === null) this.out = [bar];
    else this.out.push(bar);
  }
}

/**
 * Trades to OHLCV bars per instrument (exchange:symbol), aligned on interval boundaries in UTC. volume is the base
 * volume, quoteVolume the sum of price * size, buyVolume the base volume of taker buys, trades the count.
 *
 * Event time: each instrument's watermark is its largest trade tsEvent. A bar is emitted when the watermark reaches
 * its end + allowedLatenessMs (a trade at or after that time arrives), or when the input completes (every open bar is
 * flushed, by open time, ties in order of the instruments' first trade). Until then trades for it, even out of order,
 * update it (open and close are the first and last trades in event time); afterwards they are late: dropped and
 * passed to `onLate`. Bars of an instrument come out in open-time order on a regular grid: an empty interval
 * between two bars with trades becomes a zero-volume bar with O = H = L = C = the previous close (as Binance prints
 * them), for holes of up to maxGapFillBars (default 60) intervals. A longer hole (an outage, a halted market) is not
 * filled: inventing hours of flat prices would mislead more than the gap, and the feature stage restarts its warm-up
 * after a gap. No bar is invented before the first trade or after the last one of an instrument; a quiet instrument's
 * last bar waits for its next trade or for the end of the input.
 *
 * Bar: id = barId(...), tsEvent = openTime + interval, tsInit = scheduler.now() when emitted. The per-trade path
 * allocates nothing (state is mutable inside the operator, per subscription).
 */
export function tradesToBars(opts: TradesToBarsOptions): OperatorFunction<Trade, Bar> {
  return (source) =>
    defer(() => {
      const agg = new BarAggregator(opts);
      return source.pipe(
        map((t) => agg.push(t)),
        filter((bars): bars is Bar[] => bars !== null),
        concatMap((bars) => bars),
        concatWith(defer(() => agg.flush())),
      );
    });
}
