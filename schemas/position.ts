import { double, enumOf, field, record, string, type Infer } from './avro.ts';
import { envelope, instrument } from './common.ts';

/** Direction of a position. */
export const PositionSide = enumOf('PositionSide', ['LONG', 'SHORT', 'FLAT'] as const);
/** Direction of a position. */
export type PositionSide = Infer<typeof PositionSide>;

/** pos.positions.v1 (compacted by instrument): the position after a change. */
export const PositionSchema = record('qt.pos.Position', {
  ...envelope,
  ...instrument,
  positionId: field(string, { doc: 'id of the position: the client order id of its entry' }),
  side: PositionSide,
  qty: field(double, { doc: 'open base quantity, >= 0' }),
  avgEntry: double,
  leverage: double,
  markPrice: double,
  realizedPnl: field(double, { doc: 'realised PnL of this position so far, net of fees' }),
  unrealizedPnl: double,
  stopPrice: field(double, { doc: 'stop in force, 0 when flat' }),
}, 'A position.');
/** pos.positions.v1 message. */
export type Position = Infer<typeof PositionSchema>;
