import { defer, type OperatorFunction } from 'rxjs';
import { map } from 'rxjs/operators';
import { instrumentKey } from '../../schemas/common.ts';
import type { OrderEvent } from '../../schemas/order-event.ts';
import type { Position } from '../../schemas/position.ts';

/** An entry approved by risk whose order is still working. */
export interface PendingEntry {
  readonly key: string;
  readonly clientOrderId: string;
  /** Notional of the whole order at its reference price. */
  readonly notional: number;
  /** Event time of the approval. */
  readonly tsEvent: number;
  /** Ordered base quantity, whose unfilled share stays counted. Absent: the whole notional, until the position shows up. */
  readonly qty?: number;
  /** Leverage of the order: the unfilled notional / leverage is margin the broker reserves. Absent: 1. */
  readonly leverage?: number;
}

/** What is open on an instrument. */
export interface InstrumentExposure {
  /** A position is open or an approved entry is pending. */
  readonly busy: boolean;
  /** Why busy: the position or the pending order. */
  readonly detail: string;
  /** Notional of the open position (qty * mark) plus the unfilled rest of the pending entry. */
  readonly notional: number;
}

interface Pending extends PendingEntry {
  /** Highest filled quantity seen, from the entry's order events or its position. */
  filled: number;
  /** The order reached a final status: nothing more will fill. */
  ended: boolean;
  /** Its position has been seen open. */
  seen: boolean;
}

interface Open {
  readonly positionId: string;
  readonly notional: number;
  readonly margin: number;
}

const isFinal = (s: OrderEvent['status']): boolean => s === 'FILLED' || s === 'CANCELLED' || s === 'REJECTED';

/** Notional of a pending entry's unfilled rest. */
function unfilled(e: Pending): number {
  if (e.ended) return 0;
  if (!(e.qty !== undefined && e.qty > 0)) return e.notional;
  return e.notional * Math.max(0, 1 - e.filled / e.qty);
}

/** Margin a pending entry's unfilled rest reserves at the broker. */
function pendingMargin(e: Pending): number {
  const lev = e.leverage !== undefined && e.leverage > 0 ? e.leverage : 1;
  return unfilled(e) / lev;
}

/**
 * Open notional and pledged margin by instrument: positions from pos.positions.v1 (the latest message per instrument
 * wins) plus entries risk has approved whose order is still working, so two intents a bar apart cannot both pass while
 * the first order works, and the margin it reserves is not promised twice. A pending entry counts its unfilled rest
 * (its position counts the filled part) until its order is FILLED, CANCELLED or REJECTED on exec.orders.v1 (with a
 * fill, it keeps the instrument busy until the position appears), its position goes flat (the broker then cancels the
 * rest), or it is older than the TTL (a fallback for a lost order event). Mutable; one per subscription.
 */
export class ExposureBook {
  private readonly positions = new Map<string, Open>();
  private readonly pending = new Map<string, Pending>();

  constructor(readonly pendingTtlMs: number) {}

  /** Takes a position update. */
  applyPosition(p: Position): void {
    const key = instrumentKey(p);
    const open = p.side !== 'FLAT' && p.qty > 0;
    if (open) {
      const lev = p.leverage > 0 ? p.leverage : 1;
      this.positions.set(key, { positionId: p.positionId, notional: Math.abs(p.qty * p.markPrice), margin: Math.abs(p.qty * p.avgEntry) / lev });
    } else {
      this.positions.delete(key);
    }
    const e = this.pending.get(key);
    if (e?.clientOrderId !== p.positionId) return;
    // Without the ordered quantity the unfilled rest is unknown: the position then stands for the whole entry.
    if (!open || e.ended || e.qty === undefined) {
      this.pending.delete(key);
      return;
    }
    e.filled = Math.max(e.filled, p.qty);
    e.seen = true;
  }

  /** Takes an exec.orders.v1 event: an entry's fills shrink its pending rest; a final status ends it. */
  applyOrder(o: OrderEvent): void {
    if (o.purpose !== 'ENTRY') return;
    const key = instrumentKey(o);
    const e = this.pending.get(key);
    if (e?.clientOrderId !== o.clientOrderId) return;
    if (Number.isFinite(o.filledQty)) e.filled = Math.max(e.filled, o.filledQty);
    if (!isFinal(o.status)) return;
    e.ended = true;
    // With something filled, the instrument stays busy until its position shows up (it is published after the order event).
    if (e.seen || !(e.filled > 0)) this.pending.delete(key);
  }

  /** Records an approved entry. */
  addPending(entry: PendingEntry): void {
    this.pending.set(entry.key, { ...entry, filled: 0, ended: false, seen: false });
  }

  /** Drops pending entries older than the TTL as of event time t. */
  expire(t: number): void {
    for (const [k, e] of [...this.pending]) if (t - e.tsEvent > this.pendingTtlMs) this.pending.delete(k);
  }

  /** What is open on one instrument. */
  instrument(key: string): InstrumentExposure {
    const pos = this.positions.get(key);
    const pend = this.pending.get(key);
    const notional = (pos?.notional ?? 0) + (pend ? unfilled(pend) : 0);
    const detail = pos ? `position ${pos.positionId} open` : pend ? `entry ${pend.clientOrderId} pending since ${pend.tsEvent}` : '';
    return { busy: pos !== undefined || pend !== undefined, detail, notional };
  }

  /** Total open notional: positions and the unfilled rest of pending entries. */
  total(): number {
    let sum = 0;
    for (const p of this.positions.values()) sum += p.notional;
    for (const e of this.pending.values()) sum += unfilled(e);
    return sum;
  }

  /** Margin pledged as the broker counts it: open positions' qty * avgEntry / leverage plus pending entries' reserves. */
  usedMargin(): number {
    let sum = 0;
    for (const p of this.positions.values()) sum += p.margin;
    for (const e of this.pending.values()) sum += pendingMargin(e);
    return sum;
  }
}

/** An input of the exposure book operator. */
export type BookEvent =
  | { readonly kind: 'position'; readonly position: Position }
  | { readonly kind: 'pending'; readonly entry: PendingEntry }
  | { readonly kind: 'execution'; readonly event: OrderEvent };

/** Total open notional and margin after each input. */
export interface ExposureView {
  readonly total: number;
  readonly usedMargin: number;
  /** The instrument of the input and what is open on it. */
  readonly key: string;
  readonly instrument: InstrumentExposure;
}

/** The exposure book as an operator: the totals and the touched instrument after each position, order event or pending entry. */
export function exposureBook(pendingTtlMs: number): OperatorFunction<BookEvent, ExposureView> {
  return (source) =>
    defer(() => {
      const book = new ExposureBook(pendingTtlMs);
      return source.pipe(
        map((ev) => {
          let key: string;
          if (ev.kind === 'position') {
            book.applyPosition(ev.position);
            key = instrumentKey(ev.position);
          } else if (ev.kind === 'execution') {
            book.applyOrder(ev.event);
            key = instrumentKey(ev.event);
          } else {
            book.expire(ev.entry.tsEvent);
            book.addPending(ev.entry);
            key = ev.entry.key;
          }
          return { total: book.total(), usedMargin: book.usedMargin(), key, instrument: book.instrument(key) };
        }),
      );
    });
}
