import { double, enumOf, field, record, string, type Infer } from './avro.ts';
import { envelope, instrument } from './common.ts';
import { Side } from './trade.ts';

/** Order lifecycle states. */
export const OrderStatus = enumOf('OrderStatus', [
  'SUBMITTED',
  'ACCEPTED',
  'PARTIALLY_FILLED',
  'FILLED',
  'CANCELLED',
  'REJECTED',
] as const);
/** Order lifecycle state. */
export type OrderStatus = Infer<typeof OrderStatus>;

/** Why an order exists. */
export const OrderPurpose = enumOf('OrderPurpose', ['ENTRY', 'STOP_LOSS', 'TAKE_PROFIT', 'TRAILING_STOP'] as const);
/** Why an order exists. */
export type OrderPurpose = Infer<typeof OrderPurpose>;

/** exec.orders.v1: one step in an order's lifecycle. */
export const OrderEventSchema = record('qt.exec.OrderEvent', {
  ...envelope,
  ...instrument,
  clientOrderId: string,
  venue: field(string, { doc: 'paper, or a ccxt exchange id' }),
  status: OrderStatus,
  purpose: OrderPurpose,
  side: Side,
  type: field(string, { doc: 'MARKET or LIMIT' }),
  qty: field(double, { doc: 'ordered base quantity' }),
  filledQty: field(double, { doc: 'cumulative filled quantity' }),
  avgPrice: field(double, { doc: 'average fill price, 0 before any fill' }),
  reason: field(string, { doc: 'why it was rejected or cancelled, empty otherwise' }),
}, 'Order event.');
/** exec.orders.v1 message. */
export type OrderEvent = Infer<typeof OrderEventSchema>;
