import { double, enumOf, field, int, record, string, type Infer } from './avro.ts';
import { envelope, instrument } from './common.ts';

/** What happened to a position's exits. */
export const ExitKind = enumOf('ExitKind', [
  'STOP_LOSS',
  'TAKE_PROFIT',
  'TRAILING_STOP',
  'STOP_TO_BREAK_EVEN',
  'TRAILING_ARMED',
] as const);
/** What happened to a position's exits. */
export type ExitKind = Infer<typeof ExitKind>;

/** exit.events.v1: an exit triggered (or an exit rule moved) on an open position. */
export const ExitEventSchema = record('qt.exit.ExitEvent', {
  ...envelope,
  ...instrument,
  positionId: string,
  kind: ExitKind,
  level: field(int, { doc: 'take-profit level 1..3, 0 for other kinds' }),
  triggerPrice: field(double, { doc: 'price that triggered the rule' }),
  qty: field(double, { doc: 'quantity to close, 0 for a rule move' }),
  stopPrice: field(double, { doc: 'stop in force after the event' }),
  clientOrderId: field(string, { doc: 'exit order id, empty for a rule move' }),
}, 'Exit event.');
/** exit.events.v1 message. */
export type ExitEvent = Infer<typeof ExitEventSchema>;
