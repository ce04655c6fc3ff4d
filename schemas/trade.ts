import { double, enumOf, field, record, string, type Infer } from './avro.ts';
import { envelope, instrument } from './common.ts';

/** Taker side of a trade. */
export const Side = enumOf('Side', ['BUY', 'SELL'] as const);
/** Taker side of a trade or an order side. */
export type Side = Infer<typeof Side>;

/** md.trades.v1: one exchange trade (tick). */
export const TradeSchema = record('qt.md.Trade', {
  ...envelope,
  ...instrument,
  tradeId: field(string, { doc: 'exchange trade id, unique per instrument' }),
  price: field(double, { doc: 'quote currency per unit of base' }),
  size: field(double, { doc: 'base currency amount' }),
  side: field(Side, { doc: 'taker side' }),
}, 'A trade on an exchange.');
/** md.trades.v1 message. */
export type Trade = Infer<typeof TradeSchema>;
