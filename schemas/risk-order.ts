import { array, double, enumOf, field, nullable, record, string, type Infer } from './avro.ts';
import { RiskMode } from './brain-decision.ts';
import { envelope, instrument } from './common.ts';
import { Side } from './trade.ts';

/** Risk verdict on an order intent. */
export const RiskVerdict = enumOf('RiskVerdict', ['APPROVED', 'DENIED'] as const);
/** Risk verdict on an order intent. */
export type RiskVerdict = Infer<typeof RiskVerdict>;

/** Why risk denied an intent (fixed list). */
export const DenyReason = enumOf('DenyReason', [
  'NONE',
  'OTHER',
  'CONFIDENCE_BELOW_GATE',
  'DAILY_DRAWDOWN_HALT',
  'WEEKLY_DRAWDOWN_HALT',
  'EXPOSURE_CAP',
  'SIZE_TOO_SMALL',
  'POSITION_OPEN',
  'MODE_CRITICAL',
  'INVALID_STOP',
] as const, { fallback: 'OTHER' });
/** Why risk denied an intent. */
export type DenyReason = Infer<typeof DenyReason>;

/** risk.orders.v1: an order intent approved with its size, or denied with its reason. */
export const RiskOrderSchema = record('qt.risk.RiskOrder', {
  ...envelope,
  ...instrument,
  decisionId: string,
  clientOrderId: field(string, { doc: 'derived from the decision id; the idempotency key at the venue' }),
  verdict: RiskVerdict,
  denyReason: DenyReason,
  denyDetail: string,
  side: field(nullable(Side), { default: null }),
  qty: field(double, { doc: 'base quantity, 0 when denied' }),
  leverage: field(double, { doc: '1..30' }),
  refPrice: field(double, { doc: 'close of the decision bar' }),
  stopPrice: field(double, { doc: 'initial stop-loss price, 0 when denied' }),
  takeProfits: field(array(double), { doc: 'take-profit ladder prices, nearest first' }),
  riskFraction: field(double, { doc: 'fraction of equity at risk if the stop is hit' }),
  equity: field(double, { doc: 'equity used for sizing' }),
  mode: RiskMode,
  confidence: double,
}, 'Risk verdict.');
/** risk.orders.v1 message. */
export type RiskOrder = Infer<typeof RiskOrderSchema>;
