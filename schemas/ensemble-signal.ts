import { array, double, enumOf, field, record, string, type Infer } from './avro.ts';
import { envelope, instrument } from './common.ts';

/** Direction the ensemble votes for. */
export const Signal = enumOf('Signal', ['LONG', 'SHORT', 'FLAT'] as const);
/** Direction the ensemble votes for. */
export type Signal = Infer<typeof Signal>;

/** A member's contribution to the vote. */
export const MemberVote = record('qt.ens.MemberVote', {
  member: string,
  modelVersion: string,
  weight: field(double, { doc: 'normalised weight in force for this vote' }),
  pDown: double,
  pFlat: double,
  pUp: double,
});
/** A member's contribution to the vote. */
export type MemberVote = Infer<typeof MemberVote>;

/** Supervisor verdict on the vote. */
export const SupervisorVerdict = enumOf('SupervisorVerdict', ['OK', 'BIAS', 'DRIFT', 'UNHEALTHY'] as const);
/** Supervisor verdict on the vote. */
export type SupervisorVerdict = Infer<typeof SupervisorVerdict>;

/** Market context of the bar, for the brains (copied from the feature vector, not recomputed). */
export const MarketContext = record('qt.ens.MarketContext', {
  close: double,
  atrPct: field(double, { doc: 'ATR as a fraction of close' }),
  realizedVol: field(double, { doc: 'realised volatility of 1-bar log returns over the window' }),
  rsi: field(double, { doc: 'RSI, 0..100' }),
  emaRatio: field(double, { doc: 'fast EMA / slow EMA - 1' }),
  ret: field(double, { doc: 'log return over the medium horizon' }),
});
/** Market context of the bar. */
export type MarketContext = Infer<typeof MarketContext>;

/** ens.signals.v1: the weighted vote of the acting members for one feature vector. */
export const EnsembleSignalSchema = record('qt.ens.EnsembleSignal', {
  ...envelope,
  ...instrument,
  featureId: string,
  pDown: double,
  pFlat: double,
  pUp: double,
  signal: Signal,
  confidence: field(double, { doc: 'LONG/SHORT: P(side) / (P(UP) + P(DOWN)); FLAT: P(FLAT); 0..1' }),
  members: array(MemberVote),
  supervisor: SupervisorVerdict,
  supervisorReason: field(string, { doc: 'why, empty when OK' }),
  market: MarketContext,
}, 'Ensemble vote.');
/** ens.signals.v1 message. */
export type EnsembleSignal = Infer<typeof EnsembleSignalSchema>;
