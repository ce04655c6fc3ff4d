import { defer, type OperatorFunction } from 'rxjs';
import { map } from 'rxjs/operators';
import { instrumentKey } from '../../schemas/common.ts';
import type { Position } from '../../schemas/position.ts';

/** An entry approved by risk and not yet seen as a position. */
export interface PendingEntry {
  readonly key: string;
  readonly clientOrderId: string;
  readonly notional: number;
  /** Event time of the approval. */
  readonly tsEvent: number;
}

/** What is open on an instrument. */
export interface InstrumentExposure {
  /** A position is open or an approved entry is pending. */
  readonly busy: boolean;
  /** Why busy: the position or the pending order. */
  readonly detail: string;
  /** Notional of the open position (qty * mark) plus the pending entry. */
  readonly notional: number;
}

/**
 * Open notional by instrument: positions from pos.positions.v1 (the latest message per instrument wins) plus entries
 * risk has approved that have not shown up as a position yet, so two intents a bar apart cannot both pass while the
 * first order is still working. A pending entry ends when its position appears (positionId = its clientOrderId) or
 * when it is older than the TTL (the order expired unfilled). Mutable; one per subscription.
 */
export class ExposureBook {
  private readonly positions = new Map<string, { readonly positionId: string; readonly notional: number }>();
  private readonly pending = new Map<string, PendingEntry>();

  constructor(readonly pendingTtlMs: number) {}

  /** Takes a position update. */
  applyPosition(p: Position): void {
    const key = instrumentKey(p);
    if (p.side !== 'FLAT' && p.qty > 0) this.positions.set(key, { positionId: p.positionId, notional: Math.abs(p.qty * p.markPrice) });
    else this.positions.delete(key);
    if (this.pending.get(key)?.clientOrderId === p.positionId) this.pending.delete(key);
  }

  /** Records an approved entry. */
  addPending(entry: PendingEntry): void {
    this.pending.set(entry.key, entry);
  }

  /** Drops pending entries older than the TTL as of event time t. */
  expire(t: number): void {
    for (const [k, e] of [...this.pending]) if (t - e.tsEvent > this.pendingTtlMs) this.pending.delete(k);
  }

  /** What is open on one instrument. */
  instrument(key: string): InstrumentExposure {
    const pos = this.positions.get(key);
    const pend = this.pending.get(key);
    const notional = (pos?.notional ?? 0) + (pend?.notional ?? 0);
    const detail = pos ? `position ${pos.positionId} open` : pend ? `entry ${pend.clientOrderId} pending since ${pend.tsEvent}` : '';
    return { busy: pos !== undefined || pend !== undefined, detail, notional };
  }

  /** Total open notional: positions and pending entries. */
  total(): number {
    let sum = 0;
    for (const p of this.positions.values()) sum += p.notional;
    for (const e of this.pending.values()) sum += e.notional;
    return sum;
  }
}

/** An input of the exposure book operator. */
export type BookEvent = { readonly kind: 'position'; readonly position: Position } | { readonly kind: 'pending'; readonly entry: PendingEntry };

/** Total open notional after each input. */
export interface ExposureView {
  readonly total: number;
  /** The instrument of the input and what is open on it. */
  readonly key: string;
  readonly instrument: InstrumentExposure;
}

/** The exposure book as an operator: the total and the touched instrument after each position or pending entry. */
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
          } else {
            book.expire(ev.entry.tsEvent);
            book.addPending(ev.entry);
            key = ev.entry.key;
          }
          return { total: book.total(), key, instrument: book.instrument(key) };
        }),
      );
    });
}
