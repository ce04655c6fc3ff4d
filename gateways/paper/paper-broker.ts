import { QTY_EPS as EPS } from '../../operators/exits/quantity.ts';
import { utcDayStart } from '../../operators/risk/drawdown-clock.ts';
import { MARGIN_DUST } from '../../operators/risk/position-sizing.ts';
import { instrumentKey } from '../../schemas/common.ts';
import type { Equity } from '../../schemas/equity.ts';
import type { ExitEvent } from '../../schemas/exit-event.ts';
import { deriveId } from '../../schemas/ids.ts';
import type { OrderPurpose, OrderStatus } from '../../schemas/order-event.ts';
import { out, type Clock, type Outgoing } from '../../schemas/ports.ts';
import type { RiskOrder } from '../../schemas/risk-order.ts';
import type { Side } from '../../schemas/trade.ts';
import { Account, directionOf, DrawdownTracker, type OpenPosition } from './account.ts';
import { brokerConfig, type BrokerConfig } from './broker-config.ts';
import { fillOf, orderEventOf, positionOf, type WorkingOrder } from './broker-messages.ts';
import { feeOf, slipped, slippageFraction, triggerBase, volumeBudget } from './fill-model.ts';
import type { MarketPrint } from './market-print.ts';

/** Why the paper broker rejected an order (fixed list). */
export const REJECT_REASONS = [
  'INVALID_SIDE',
  'INVALID_QTY',
  'INVALID_PRICE',
  'INVALID_LEVERAGE',
  'INSUFFICIENT_MARGIN',
  'POSITION_OPEN',
  'NO_POSITION',
] as const;
/** Why the paper broker rejected an order. */
export type RejectReason = (typeof REJECT_REASONS)[number];

/** Why the paper broker cancelled (the rest of) an order (fixed list). */
export const CANCEL_REASONS = ['NOT_FILLED_IN_TIME', 'POSITION_CLOSED', 'EXIT_TRIGGERED', 'SUPERSEDED_BY_STOP'] as const;
/** Why the paper broker cancelled (the rest of) an order. */
export type CancelReason = (typeof CANCEL_REASONS)[number];

/** One input of the broker, in arrival order. */
export type BrokerInput =
  | { readonly kind: 'order'; readonly order: RiskOrder }
  | { readonly kind: 'exit'; readonly exit: ExitEvent }
  | { readonly kind: 'print'; readonly print: MarketPrint };

/** Raised when the broker meets a number it cannot trade on (corrupt state: crash-only). */
export class BrokerInvariantError extends Error {
  override readonly name = 'BrokerInvariantError';
  readonly retriable = false;
  constructor(readonly detail: string, readonly messageId: string) {
    super(`paper broker invariant broken: ${detail} (message ${messageId})`);
  }
}

/** A summary of the account, for tests and reports. */
export interface AccountSnapshot {
  readonly cash: number;
  readonly equity: number;
  readonly realizedGross: number;
  readonly fees: number;
  readonly unrealized: number;
  readonly positions: readonly { readonly key: string; readonly positionId: string; readonly qty: number; readonly avgEntry: number; readonly dir: 1 | -1 }[];
  readonly workingOrders: readonly string[];
}

interface PrintSlot {
  readonly print: MarketPrint;
  budget: number;
}

const isPos = (x: number): boolean => Number.isFinite(x) && x > 0;

/**
 * The paper broker: a deterministic state machine over risk orders, exit orders and market prints. Entries are market
 * orders filled from the open of the prints after their decision, at most `participation` of each print's volume,
 * the rest cancelled after `maxBarsToFill` bars or when the position's first exit order is accepted. Exits fill at
 * their trigger in the print that triggered them (at the open on a gap), the rest at the following opens. Emits order
 * events, fills, positions and equity points; time comes only from the inputs and tsInit from the injected clock. One
 * instance per subscription.
 */
export class PaperBroker {
  /** The settings in force. */
  readonly config: BrokerConfig;
  private readonly account: Account;
  private readonly dd: DrawdownTracker;
  private readonly working = new Map<string, WorkingOrder>();
  /** Side of every order ever seen, by clientOrderId: makes redelivered orders no-ops and gives exits their side. */
  private readonly known = new Map<string, Side>();
  private readonly last = new Map<string, PrintSlot>();
  private buf: Outgoing[] = [];
  private dirty = false;
  private readonly posEmitted = new Set<string>();
  private lastEqTs = Number.NaN;

  constructor(config: Partial<BrokerConfig>, private readonly clock: Clock) {
    this.config = brokerConfig(config);
    this.account = new Account(this.config.initialEquity);
    this.dd = new DrawdownTracker(this.config.initialEquity);
  }

  /** Processes one input and returns the messages it causes, in order. */
  step(input: BrokerInput): Outgoing[] {
    this.buf = [];
    this.dirty = false;
    this.posEmitted.clear();
    if (input.kind === 'order') this.onOrder(input.order);
    else if (input.kind === 'exit') this.onExit(input.exit);
    else this.onPrint(input.print);
    const res = this.buf;
    this.buf = [];
    return res;
  }

  /** The account now. */
  snapshot(): AccountSnapshot {
    const a = this.account;
    return {
      cash: a.cash(),
      equity: a.equity(),
      realizedGross: a.realizedGross,
      fees: a.fees,
      unrealized: a.unrealized(),
      positions: [...a.positions.values()].map((p) => ({ key: p.key, positionId: p.positionId, qty: p.qty, avgEntry: p.avgEntry, dir: p.dir })),
      workingOrders: [...this.working.keys()],
    };
  }

  private onOrder(o: RiskOrder): void {
    if (o.verdict !== 'APPROVED' || this.known.has(o.clientOrderId)) return;
    const side: Side = o.side ?? 'BUY';
    this.known.set(o.clientOrderId, side);
    const key = instrumentKey(o);
    const lev = o.leverage;
    const price = isPos(o.refPrice) ? o.refPrice : (this.last.get(key)?.print.close ?? Number.NaN);
    const w: WorkingOrder = {
      ...this.newOrder(o.clientOrderId, o.clientOrderId, o, 'ENTRY', side, Number.isFinite(o.qty) ? o.qty : 0, o.tsEvent),
      leverage: isPos(lev) ? lev : 1,
      stopPrice: isPos(o.stopPrice) ? o.stopPrice : 0,
      refPrice: price,
    };
    this.emitOrder(w, 'SUBMITTED', o.tsEvent);
    let reason: RejectReason | undefined;
    if (o.side === null) reason = 'INVALID_SIDE';
    else if (!isPos(o.qty)) reason = 'INVALID_QTY';
    else if (!isPos(lev)) reason = 'INVALID_LEVERAGE';
    else if (!isPos(price)) reason = 'INVALID_PRICE';
    else if (this.account.positions.has(key) || this.hasWorkingEntry(key)) reason = 'POSITION_OPEN';
    // Risk sizes the margin to fit the free margin exactly at times: rounding dust must not turn that into a rejection.
    else if ((o.qty * price) / lev > this.freeMargin() + MARGIN_DUST * Math.abs(this.account.equity())) reason = 'INSUFFICIENT_MARGIN';
    if (reason) return this.emitOrder(w, 'REJECTED', o.tsEvent, reason);
    this.emitOrder(w, 'ACCEPTED', o.tsEvent);
    this.working.set(w.clientOrderId, w);
  }

  private onExit(e: ExitEvent): void {
    const key = instrumentKey(e);
    const pos = this.account.positions.get(key);
    if (!(e.qty > 0)) {
      // A rule move (break-even, trailing armed): only the stop in force changes.
      if (pos && pos.positionId === e.positionId && isPos(e.stopPrice)) pos.stopPrice = e.stopPrice;
      return;
    }
    const coid = e.clientOrderId || deriveId('co-exit', e.positionId, e.kind, e.level);
    if (this.known.has(coid)) return;
    const entrySide = pos?.positionId === e.positionId ? (pos.dir === 1 ? 'BUY' : 'SELL') : this.known.get(e.positionId);
    const side: Side = entrySide === 'SELL' ? 'BUY' : 'SELL';
    this.known.set(coid, side);
    const purpose: OrderPurpose = e.kind === 'TAKE_PROFIT' ? 'TAKE_PROFIT' : e.kind === 'TRAILING_STOP' ? 'TRAILING_STOP' : 'STOP_LOSS';
    const closeAll = purpose !== 'TAKE_PROFIT';
    const w: WorkingOrder = {
      ...this.newOrder(coid, e.positionId, e, purpose, side, e.qty, e.tsEvent),
      trigger: isPos(e.triggerPrice) ? e.triggerPrice : Number.NaN,
      style: closeAll ? 'stop' : 'target',
      triggerTs: e.tsEvent,
    };
    this.emitOrder(w, 'SUBMITTED', e.tsEvent);
    if (!pos || pos.positionId !== e.positionId) return this.emitOrder(w, 'REJECTED', e.tsEvent, 'NO_POSITION');
    // A stop closes the whole position, whatever the exit stage knew of it; a target never closes more than is open.
    w.qty = closeAll ? pos.qty : Math.min(e.qty, pos.qty);
    this.emitOrder(w, 'ACCEPTED', e.tsEvent);
    // The first exit ends the entry: what is still unfilled is cancelled, so the position stops growing while it is
    // being closed and the exit ladder works on a fixed quantity. A stop also supersedes the other exits.
    for (const o of [...this.working.values()]) {
      if (o.positionId !== e.positionId) continue;
      if (o.purpose === 'ENTRY') this.cancel(o, 'EXIT_TRIGGERED', e.tsEvent);
      else if (closeAll) this.cancel(o, 'SUPERSEDED_BY_STOP', e.tsEvent);
    }
    this.working.set(coid, w);
    const slot = this.last.get(key);
    if (slot && slot.print.tsEvent === e.tsEvent) {
      this.fillTriggered(w, slot);
      w.triggerTs = Number.NaN;
    } else if ((slot && slot.print.tsEvent > e.tsEvent) || Number.isNaN(w.trigger)) {
      // Its print has passed (or there is no trigger): a market order at the next open.
      w.triggerTs = Number.NaN;
    }
    if (this.dirty) this.emitEquity(e.id, e.tsEvent);
  }

  private onPrint(p: MarketPrint): void {
    for (const v of [p.open, p.high, p.low, p.close]) {
      if (!isPos(v)) throw new BrokerInvariantError(`non-positive or non-finite price ${v} in ${p.key}`, p.id);
    }
    if (!(Number.isFinite(p.volume) && p.volume >= 0)) throw new BrokerInvariantError(`bad volume ${p.volume} in ${p.key}`, p.id);
    const prev = this.last.get(p.key);
    // Redelivered or out-of-order prints would spend volume twice.
    if (prev && (prev.print.id === p.id || (p.kind === 'bar' && p.tsEvent <= prev.print.tsEvent))) return;
    const slot: PrintSlot = { print: p, budget: volumeBudget(this.config, p) };
    this.last.set(p.key, slot);
    const pos = this.account.positions.get(p.key);
    if (pos) pos.mark = p.close;
    const mine = [...this.working.values()].filter((w) => w.key === p.key);
    // Exits carried from earlier prints reduce risk, so they take the volume at the open first.
    for (const w of mine) {
      if (w.purpose !== 'ENTRY' && !(w.triggerTs >= p.tsEvent) && this.working.has(w.clientOrderId)) {
        w.triggerTs = Number.NaN;
        this.fillAt(w, slot, p.open);
      }
    }
    for (const w of mine) {
      if (w.purpose !== 'ENTRY' || w.submittedTs >= p.tsEvent || !this.working.has(w.clientOrderId)) continue;
      this.fillAt(w, slot, p.open);
      if (p.kind === 'bar') w.barsSeen++;
      if (this.working.has(w.clientOrderId) && w.barsSeen >= this.config.maxBarsToFill) this.cancel(w, 'NOT_FILLED_IN_TIME', p.tsEvent);
    }
    // Exits that arrived before the print that triggers them execute after the open's fills.
    for (const w of mine) {
      if (w.purpose !== 'ENTRY' && w.triggerTs === p.tsEvent && this.working.has(w.clientOrderId)) {
        this.fillTriggered(w, slot);
        w.triggerTs = Number.NaN;
      }
    }
    const open = this.account.positions.get(p.key);
    if (open && !this.posEmitted.has(p.key)) this.emitPosition(open, p.id, p.tsEvent);
    const newDay = Number.isNaN(this.lastEqTs) || utcDayStart(p.tsEvent) > utcDayStart(this.lastEqTs);
    if (this.dirty || open || newDay) this.emitEquity(p.id, p.tsEvent);
  }

  private fillTriggered(w: WorkingOrder, slot: PrintSlot): void {
    const base = Number.isNaN(w.trigger) ? slot.print.open : triggerBase(slot.print, w.trigger, w.side, w.style);
    this.fillAt(w, slot, base);
  }

  private fillAt(w: WorkingOrder, slot: PrintSlot, base: number): void {
    const p = slot.print;
    let q = Math.min(w.qty - w.filled, slot.budget);
    let pos = this.account.positions.get(w.key);
    if (w.purpose !== 'ENTRY') {
      if (!pos || pos.positionId !== w.positionId) return this.cancel(w, 'POSITION_CLOSED', p.tsEvent);
      q = Math.min(q, pos.qty);
    }
    if (!(q > EPS * w.qty)) return;
    const price = slipped(base, w.side, slippageFraction(this.config, p));
    const fee = feeOf(this.config, price, q);
    if (!isPos(price) || !Number.isFinite(fee)) throw new BrokerInvariantError(`fill price ${price} for ${w.clientOrderId}`, p.id);
    slot.budget -= q;
    w.filled += q;
    w.notional += price * q;
    w.fills += 1;
    const fillId = this.emitFill(w, q, price, fee, p.tsEvent);
    if (w.purpose === 'ENTRY') {
      pos ??= {
        positionId: w.positionId, exchange: w.exchange, symbol: w.symbol, key: w.key, dir: directionOf(w.side),
        leverage: w.leverage, qty: 0, entryFilled: 0, avgEntry: 0, mark: p.close, realizedGross: 0, fees: 0,
        stopPrice: w.stopPrice,
      };
      this.account.increase(pos, q, price, fee);
    } else if (pos) {
      this.account.reduce(pos, q, price, fee);
    }
    this.dirty = true;
    const done = w.qty - w.filled <= EPS * w.qty;
    if (done) this.working.delete(w.clientOrderId);
    this.emitOrder(w, done ? 'FILLED' : 'PARTIALLY_FILLED', p.tsEvent);
    if (pos && pos.qty <= EPS * pos.entryFilled) {
      this.account.close(pos);
      this.emitPosition(pos, fillId, p.tsEvent);
      for (const o of [...this.working.values()]) if (o.positionId === pos.positionId) this.cancel(o, 'POSITION_CLOSED', p.tsEvent);
    } else if (pos) {
      this.emitPosition(pos, fillId, p.tsEvent);
    }
  }

  private cancel(w: WorkingOrder, reason: CancelReason, ts: number): void {
    this.working.delete(w.clientOrderId);
    this.emitOrder(w, 'CANCELLED', ts, reason);
  }

  private hasWorkingEntry(key: string): boolean {
    for (const w of this.working.values()) if (w.key === key && w.purpose === 'ENTRY') return true;
    return false;
  }

  /** Equity not yet pledged: equity - margin of open positions - margin reserved by working entries. */
  private freeMargin(): number {
    let reserved = 0;
    for (const w of this.working.values()) {
      if (w.purpose !== 'ENTRY') continue;
      reserved += ((w.qty - w.filled) * w.refPrice) / w.leverage;
    }
    return this.account.equity() - this.account.usedMargin() - reserved;
  }

  private newOrder(
    coid: string, positionId: string, m: { readonly exchange: string; readonly symbol: string }, purpose: OrderPurpose,
    side: Side, qty: number, ts: number,
  ): WorkingOrder {
    return {
      clientOrderId: coid, positionId, exchange: m.exchange, symbol: m.symbol, key: instrumentKey(m), purpose, side, qty,
      filled: 0, notional: 0, fills: 0, seq: 0, submittedTs: ts, leverage: 1, stopPrice: 0, refPrice: 0, barsSeen: 0,
      trigger: Number.NaN, style: 'stop', triggerTs: Number.NaN,
    };
  }

  private emitOrder(w: WorkingOrder, status: OrderStatus, ts: number, reason = ''): void {
    this.buf.push(out('exec.orders.v1', w.key, orderEventOf(w, status, ts, this.clock.now(), this.config.venue, reason)));
  }


  private emitFill(w: WorkingOrder, qty: number, price: number, fee: number, ts: number): string {
    const f = fillOf(w, qty, price, fee, ts, this.clock.now(), this.config.venue);
    this.buf.push(out('exec.fills.v1', w.key, f));
    return f.id;
  }


  private emitPosition(p: OpenPosition, causeId: string, ts: number): void {
    this.posEmitted.add(p.key);
    this.buf.push(out('pos.positions.v1', p.key, positionOf(p, causeId, ts, this.clock.now())));
  }


  /** One equity point per input at most, so the input's id identifies it. */
  private emitEquity(causeId: string, ts: number): void {
    const a = this.account;
    const equity = a.equity();
    // An exit for an older print may come after a newer print of another instrument: drawdowns never go back in time.
    const at = Number.isNaN(this.lastEqTs) ? ts : Math.max(ts, this.lastEqTs);
    const d = this.dd.update(at, equity);
    this.lastEqTs = at;
    const v: Equity = {
      id: deriveId('eq', this.config.account, causeId),
      tsEvent: ts,
      tsInit: this.clock.now(),
      account: this.config.account,
      equity,
      cash: a.cash(),
      realizedPnl: a.realizedGross - a.fees,
      unrealizedPnl: a.unrealized(),
      fees: a.fees,
      exposure: a.exposure(),
      openPositions: a.positions.size,
      drawdownDay: d.day,
      drawdownWeek: d.week,
      drawdownMax: d.max,
    };
    this.buf.push(out('pos.equity.v1', this.config.account, v));
  }
}
