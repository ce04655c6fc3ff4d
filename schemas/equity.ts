import { double, field, int, record, string, type Infer } from './avro.ts';
import { envelope } from './common.ts';

/** pos.equity.v1: the account after a bar or a fill. */
export const EquitySchema = record('qt.pos.Equity', {
  ...envelope,
  account: field(string, { doc: 'account name, e.g. paper' }),
  equity: field(double, { doc: 'cash + unrealised PnL, quote currency' }),
  cash: double,
  realizedPnl: field(double, { doc: 'cumulative, net of fees' }),
  unrealizedPnl: double,
  fees: field(double, { doc: 'cumulative' }),
  exposure: field(double, { doc: 'gross notional of open positions' }),
  openPositions: int,
  drawdownDay: field(double, { doc: 'drawdown from the UTC day start or intraday peak, 0..1' }),
  drawdownWeek: field(double, { doc: 'drawdown from the UTC week start or peak, 0..1' }),
  drawdownMax: field(double, { doc: 'max drawdown from the all-time peak so far, 0..1' }),
}, 'Equity point.');
/** pos.equity.v1 message. */
export type Equity = Infer<typeof EquitySchema>;
