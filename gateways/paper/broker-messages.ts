import type { Fill } from '../../schemas/fill.ts';
import { deriveId } from '../../schemas/ids.ts';
import type { OrderEvent, OrderPurpose, OrderStatus } from '../../schemas/order-event.ts';
import type { Position } from '../../schemas/position.ts';
import type { Side } from '../../schemas/trade.ts';
import { unrealizedOf, type OpenPosition } from './account.ts';
import type { TriggerStyle } from './fill-model.ts';

/** An order the paper broker is working on (mutable, owned by one broker). */
export interface WorkingOrder {
  readonly clientOrderId: string;
  /** The entry's clientOrderId: the position the order opens or closes. */
  readonly positionId: string;
  readonly exchange: string;
  readonly symbol: string;
  readonly key: string;
  readonly purpose: OrderPurpose;
  readonly side: Side;
  qty: number;
  filled: number;
  /** Sum of price * qty over the fills, for the average price. */
  notional: number;
  fills: number;
  /** Number of order events emitted so far (for their ids). */
  seq: number;
  readonly submittedTs: number;
  readonly leverage: number;
  /** Initial stop of an entry, 0 for none. */
  readonly stopPrice: number;
  /** Price an entry's margin is reserved at (the decision bar's close). */
  readonly refPrice: number;
  /** Bars an entry has been offered to so far. */
  barsSeen: number;
  /** Trigger price of an exit; NaN for none. */
  readonly trigger: number;
  readonly style: TriggerStyle;
  /** tsEvent of the print that triggered an exit; NaN once it executes as a market order. */
  triggerTs: number;
}

/** The next lifecycle event of an order; advances its event counter. */
export function orderEventOf(w: WorkingOrder, status: OrderStatus, ts: number, tsInit: number, venue: string, reason: string): OrderEvent {
  return {
    id: deriveId('oe', w.clientOrderId, status, w.seq++),
    tsEvent: ts,
    tsInit,
    exchange: w.exchange,
    symbol: w.symbol,
    clientOrderId: w.clientOrderId,
    venue,
    status,
    purpose: w.purpose,
    side: w.side,
    type: 'MARKET',
    qty: w.qty,
    filledQty: w.filled,
    avgPrice: w.filled > 0 ? w.notional / w.filled : 0,
    reason,
  };
}

/** The fill message of the order's latest execution (its fill counter already advanced). */
export function fillOf(w: WorkingOrder, qty: number, price: number, fee: number, ts: number, tsInit: number, venue: string): Fill {
  return {
    id: deriveId('fill', w.clientOrderId, w.fills),
    tsEvent: ts,
    tsInit,
    exchange: w.exchange,
    symbol: w.symbol,
    clientOrderId: w.clientOrderId,
    venue,
    purpose: w.purpose,
    side: w.side,
    qty,
    price,
    fee,
    liquidity: 'TAKER',
  };
}

/**
 * The position message after a change (FLAT once its quantity is 0). `causeId` is the fill (or, for a mark-to-market
 * update, the print) behind it, so the id does not depend on how many updates came before.
 */
export function positionOf(p: OpenPosition, causeId: string, ts: number, tsInit: number): Position {
  const flat = p.qty === 0;
  return {
    id: deriveId('pos', p.positionId, causeId),
    tsEvent: ts,
    tsInit,
    exchange: p.exchange,
    symbol: p.symbol,
    positionId: p.positionId,
    side: flat ? 'FLAT' : p.dir === 1 ? 'LONG' : 'SHORT',
    qty: p.qty,
    avgEntry: p.avgEntry,
    leverage: p.leverage,
    markPrice: p.mark,
    realizedPnl: p.realizedGross - p.fees,
    unrealizedPnl: flat ? 0 : unrealizedOf(p),
    stopPrice: flat ? 0 : p.stopPrice,
  };
}
