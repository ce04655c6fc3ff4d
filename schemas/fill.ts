import { double, field, record, string, type Infer } from './avro.ts';
import { envelope, instrument } from './common.ts';
import { OrderPurpose } from './order-event.ts';
import { Side } from './trade.ts';

/** exec.fills.v1: one (partial) execution of an order. */
export const FillSchema = record('qt.exec.Fill', {
  ...envelope,
  ...instrument,
  clientOrderId: string,
  venue: string,
  purpose: OrderPurpose,
  side: Side,
  qty: field(double, { doc: 'base quantity of this fill' }),
  price: field(double, { doc: 'execution price including slippage' }),
  fee: field(double, { doc: 'fee in quote currency' }),
  liquidity: field(string, { doc: 'TAKER or MAKER' }),
}, 'A fill.');
/** exec.fills.v1 message. */
export type Fill = Infer<typeof FillSchema>;
