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
/** What a raised supervisor check does to entries: nothing but record it (OBSERVE) or BLOCK entries on a side. */
export const SupervisorAction = enumOf('SupervisorAction', ['NONE', 'OBSERVE', 'BLOCK'] as const);
/** What a raised supervisor check does to entries. */
export type SupervisorAction = Infer<typeof SupervisorAction>;

/** Volatility regime: realised volatility against its own slow average. */
export const VolRegime = enumOf('VolRegime', ['LOW', 'NORMAL', 'HIGH'] as const);
/** Volatility regime. */
export type VolRegime = Infer<typeof VolRegime>;

/** Trend regime: direction of a persistent drift, or none. */
export const TrendRegime = enumOf('TrendRegime', ['UP', 'DOWN', 'RANGE'] as const);
/** Trend regime. */
export type TrendRegime = Infer<typeof TrendRegime>;

/** The regimes in force at the bar, of the symbol and of the whole market (the detector's output). */
export const Regime = record('qt.ens.Regime', {
  volatility: VolRegime,
  trend: TrendRegime,
  marketVolatility: field(VolRegime, { doc: 'market-wide: the regime of most symbols at this bar time' }),
  marketTrend: field(TrendRegime, { doc: 'market-wide: the regime of most symbols at this bar time' }),
});
/** The regimes in force at the bar. */
export type Regime = Infer<typeof Regime>;

/** The regime assumed when none is known (messages written before the detector). */
export const DEFAULT_REGIME: Regime = Object.freeze({ volatility: 'NORMAL', trend: 'RANGE', marketVolatility: 'NORMAL', marketTrend: 'RANGE' });

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
  supervisorAction: field(SupervisorAction, {
    doc: 'BLOCK: the supervisor blocks new entries in the direction of this signal; OBSERVE: a raised check is only recorded',
    default: 'NONE',
  }),
  regime: field(Regime, { doc: 'volatility and trend regimes of the symbol and the market at the bar', default: DEFAULT_REGIME }),
}, 'Ensemble vote.');
/** ens.signals.v1 message. */
export type EnsembleSignal = Infer<typeof EnsembleSignalSchema>;
