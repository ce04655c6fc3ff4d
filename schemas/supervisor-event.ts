import { double, enumOf, field, nullable, record, string, type Infer } from './avro.ts';
import { envelope } from './common.ts';
import { Signal, SupervisorAction, SupervisorVerdict } from './ensemble-signal.ts';

/** What the supervisor checks. */
export const SupervisorCheck = enumOf('SupervisorCheck', [
  'OTHER',
  'BIAS',
  'FEATURE_DRIFT',
  'PREDICTION_DRIFT',
  'BRIER_DEGRADATION',
  'INFERENCE_ERRORS',
  'LATENCY',
] as const, { fallback: 'OTHER' });
/** What the supervisor checks. */
export type SupervisorCheck = Infer<typeof SupervisorCheck>;

/** Whether a check was raised or cleared. */
export const SupervisorStatus = enumOf('SupervisorStatus', ['RAISED', 'CLEARED'] as const);
/** Whether a check was raised or cleared. */
export type SupervisorStatus = Infer<typeof SupervisorStatus>;

/**
 * ens.supervisor.v1: a supervisor check raised or cleared for the ensemble or one member (keyed by scope). Emitted on
 * changes only; the verdict in force is carried by every ens.signals.v1 message.
 */
export const SupervisorEventSchema = record('qt.ens.SupervisorEvent', {
  ...envelope,
  scope: field(string, { doc: 'ensemble, or the member name' }),
  modelVersion: field(string, { doc: 'version of the member, empty for the ensemble' }),
  check: SupervisorCheck,
  status: SupervisorStatus,
  verdict: field(SupervisorVerdict, { doc: 'the verdict this check gives while raised' }),
  action: field(SupervisorAction, { doc: 'what the raised check does: OBSERVE (journal and metrics only) or BLOCK (entries on side)' }),
  side: field(nullable(Signal), { doc: 'the side of a bias', default: null }),
  value: field(double, { doc: 'the measured value: share on one side, PSI, rolling Brier score, error count, latency in s' }),
  threshold: field(double, { doc: 'the limit the value crossed' }),
  detail: field(string, { doc: 'what was measured, in words' }),
}, 'A supervisor verdict change.');
/** ens.supervisor.v1 message. */
export type SupervisorEvent = Infer<typeof SupervisorEventSchema>;
