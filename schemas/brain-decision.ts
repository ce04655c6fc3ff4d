import { array, double, enumOf, field, nullable, record, string, type Infer } from './avro.ts';
import { envelope, instrument } from './common.ts';
import { MemberVote, Signal } from './ensemble-signal.ts';

/** Risk modes of the CEO brain. */
export const RiskMode = enumOf('RiskMode', ['SAFE', 'NORMAL', 'AGGRESSIVE', 'CRITICAL'] as const);
/** Risk mode of the CEO brain. */
export type RiskMode = Infer<typeof RiskMode>;

/** What the brains decided: an order intent or a refusal. */
export const DecisionOutcome = enumOf('DecisionOutcome', ['INTENT', 'REFUSAL'] as const);
/** What the brains decided. */
export type DecisionOutcome = Infer<typeof DecisionOutcome>;

/** Why the brains refused (fixed list). */
export const RefusalReason = enumOf('RefusalReason', [
  'NONE',
  'OTHER',
  'SIGNAL_FLAT',
  'MODE_CRITICAL',
  'SUPERVISOR_BLOCK',
  'STRATEGY_DISAGREES',
  'RISK_BRAIN_VETO',
  'POSITION_ALREADY_OPEN',
] as const, { fallback: 'OTHER' });
/** Why the brains refused. */
export type RefusalReason = Infer<typeof RefusalReason>;

/** brain.decisions.v1: the consensus of the CEO, strategy and risk brains on one ensemble signal. */
export const BrainDecisionSchema = record('qt.brain.BrainDecision', {
  ...envelope,
  ...instrument,
  signalId: string,
  outcome: DecisionOutcome,
  refusal: RefusalReason,
  refusalDetail: field(string, { doc: 'human-readable detail of the refusal, empty for an intent' }),
  side: field(nullable(Signal), { doc: 'LONG or SHORT for an intent', default: null }),
  mode: RiskMode,
  modeReason: string,
  strategy: field(string, { doc: 'strategy chosen by the strategy brain' }),
  riskScale: field(double, { doc: 'size multiplier from the risk brain and mode, 0..2' }),
  confidence: double,
  signal: Signal,
  members: field(array(MemberVote), { doc: 'each member vote and weight behind the signal' }),
  close: double,
  atrPct: double,
}, 'A brain decision.');
/** brain.decisions.v1 message. */
export type BrainDecision = Infer<typeof BrainDecisionSchema>;
