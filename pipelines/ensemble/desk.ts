import type { ModelCard } from '../../models/card.ts';
import { EnsembleConfigError, labelSpecOf, modelInputs, rejectionOf, vectorDeadLetter, type ModelInputs } from './inputs.ts';
import { ModelInputError } from '../../models/errors.ts';
import type { ClassifierModel } from '../../models/model-port.ts';
import { featureIndex } from '../../operators/features/feature-set.ts';
import { Governance, type GovernanceConfig, type MemberRef } from '../../operators/ensemble/governance.ts';
import { OutcomeTracker, type PendingVote, type ResolvedOutcome } from '../../operators/ensemble/outcomes.ts';
import { RegimeDetector, type RegimeConfig } from '../../operators/ensemble/regime.ts';
import { brier, CLASS_NAMES, logLoss, predictedClass } from '../../operators/ensemble/scoring.ts';
import { softVote, type WeightedVote } from '../../operators/ensemble/soft-vote.ts';
import { ENSEMBLE_SCOPE, Supervisor, type MemberBaseline, type SupervisorConfig } from '../../operators/ensemble/supervisor.ts';
import { instrumentKey } from '../../schemas/common.ts';
import type { EnsembleSignal, MarketContext, Regime, Signal, VolRegime } from '../../schemas/ensemble-signal.ts';
import type { FeatureVector } from '../../schemas/feature-vector.ts';
import { deriveId } from '../../schemas/ids.ts';
import type { MemberScore } from '../../schemas/member-score.ts';
import { defineCounter, defineGauge, defineHistogram, METRICS } from '../../schemas/metrics.ts';
import type { ModelVote } from '../../schemas/model-vote.ts';
import { out, type Meter, type Outgoing } from '../../schemas/ports.ts';

/** Settings and ports of the ensemble's scoring. */
export interface EnsembleDeskDeps {
  /** The served models: champions act in the vote; shadows only vote into model.votes.v1. Order is the vote order. */
  readonly models: readonly ClassifierModel[];
  readonly meter: Meter;
  /** Fixed vote weights per member (benchmarks, tests); when absent the governance sets them from realised outcomes. */
  readonly weights?: Readonly<Record<string, number>>;
  readonly governance?: Partial<GovernanceConfig>;
  readonly supervisor?: Partial<SupervisorConfig>;
  readonly regime?: Partial<RegimeConfig>;
  /** Bar interval, ms (default 60000). */
  readonly barMs?: number;
  /** Milliseconds from an arbitrary origin, for latency only (the metric and the supervisor's latency check). */
  readonly stopwatch?: () => number;
}

/** The member name under which the ensemble's own vote is scored. */
export const ENSEMBLE_MEMBER = ENSEMBLE_SCOPE;

const iAtr = featureIndex('atr_pct_14');
const iVol = featureIndex('rvol_30');
const iRsi = featureIndex('rsi_14');
const iEma = featureIndex('ema_ratio_12_26');
const iRet = featureIndex('ret_15');

function marketOf(v: FeatureVector): MarketContext {
  const at = (i: number): number => v.values[i] ?? Number.NaN;
  return { close: v.close, atrPct: at(iAtr), realizedVol: at(iVol), rsi: at(iRsi), emaRatio: at(iEma), ret: at(iRet) };
}

/** What the supervisor compares a model with, from its card. */
export function baselineOf(m: ClassifierModel): MemberBaseline {
  const card: ModelCard = m.card;
  return {
    member: m.member,
    version: m.version,
    role: m.role,
    featureStats: card.data.train.featureStats,
    predictionShares: card.data.validation.predictionShares,
    brier: card.metrics.model.brier,
  };
}

function deskMetrics(meter: Meter) {
  return {
    latency: defineHistogram(meter, METRICS.inferenceDuration),
    inferred: defineCounter(meter, METRICS.inferenceRows),
    errors: defineCounter(meter, METRICS.inferenceErrors),
    signals: defineCounter(meter, METRICS.ensembleSignals),
    weight: defineGauge(meter, METRICS.memberWeight),
    ewLogLoss: defineGauge(meter, METRICS.memberEwLogLoss),
    outcomes: defineCounter(meter, METRICS.outcomes),
    serving: defineGauge(meter, METRICS.modelServing),
    raised: defineGauge(meter, METRICS.supervisorRaised),
    supervisorEvents: defineCounter(meter, METRICS.supervisorEvents),
    regime: defineGauge(meter, METRICS.marketRegime),
  };
}
type DeskMetrics = ReturnType<typeof deskMetrics>;

/** The ensemble's version: its champions as member@version joined by + (in vote order). */
export function ensembleVersion(models: readonly ClassifierModel[]): string {
  return models.filter((m) => m.role === 'CHAMPION').map((m) => `${m.member}@${m.version}`).join('+');
}

/**
 * The ensemble's scoring as one stateful engine, without RxJS (the epic wraps it; the chain benchmark's plain loop calls
 * it directly). For each micro-batch: each model runs once over the batch (its card's input kind); then per vector, in
 * order: the regime detector steps; the outcomes that this bar resolves (votes cast H bars earlier) are scored, feed the
 * governance and the supervisor and become model.scores.v1 messages; one vote per model, and one signal from the
 * champions' soft vote with the governance weights in force and the supervisor's verdict; the bar is registered to be
 * scored H bars later. After the batch, the supervisor's raised and cleared checks become ens.supervisor.v1 events. A
 * vector the models cannot take becomes a dead letter. A model that throws is left out of the vote for that batch and
 * counted by the supervisor's health check; with no champion answering, the signal is FLAT and UNHEALTHY.
 */
export class EnsembleDesk {
  private served: readonly ClassifierModel[] = [];
  private inputs!: ModelInputs;
  private version = '';
  private readonly outcomes: OutcomeTracker;
  private readonly governance: Governance;
  private readonly supervisor: Supervisor;
  private readonly regimes: RegimeDetector;
  private readonly label: { horizonBars: number; k: number };
  private readonly stopwatch: () => number;
  private readonly m: DeskMetrics;
  /** The last error of each model that failed, for the reason of a signal no champion answered. */
  private readonly lastErrors = new Map<string, string>();

  constructor(private readonly deps: EnsembleDeskDeps) {
    this.label = labelSpecOf(deps.models);
    this.outcomes = new OutcomeTracker({ ...this.label, barMs: deps.barMs ?? 60_000 });
    this.governance = new Governance(deps.governance);
    this.supervisor = new Supervisor(deps.supervisor);
    this.regimes = new RegimeDetector(deps.regime);
    this.stopwatch = deps.stopwatch ?? (() => performance.now()); // arch-allow: stopwatch (latency only)
    this.m = deskMetrics(deps.meter);
    this.setModels(deps.models);
  }

  /** The models served now, in vote order. */
  get models(): readonly ClassifierModel[] {
    return this.served;
  }

  /**
   * Serves another set of models from the next batch on (a registry change): checked like the first set (and against
   * the label the pending outcomes will be scored with); the governance and the supervisor follow the new roster.
   */
  setModels(models: readonly ClassifierModel[]): void {
    const inputs = modelInputs(models);
    const label = labelSpecOf(models);
    if (label.horizonBars !== this.label.horizonBars || label.k !== this.label.k) {
      throw new EnsembleConfigError('LABELS_DIFFER', `new models are labelled H=${label.horizonBars} k=${label.k}, the stage scores H=${this.label.horizonBars} k=${this.label.k}`);
    }
    for (const m of this.served) this.m.serving.set({ member: m.member, role: m.role, version: m.version }, 0);
    this.served = models;
    this.inputs = inputs;
    this.version = ensembleVersion(models);
    const ref = (m: ClassifierModel): MemberRef => ({ member: m.member, modelVersion: m.version });
    this.governance.setMembers(
      models.filter((m) => m.role === 'CHAMPION').map(ref),
      [...models.filter((m) => m.role === 'SHADOW').map(ref), { member: ENSEMBLE_MEMBER, modelVersion: this.version }],
    );
    this.supervisor.setBaselines(models.map(baselineOf));
    for (const m of models) this.m.serving.set({ member: m.member, role: m.role, version: m.version }, 1);
  }

  /** Runs every model once over the accepted vectors: probabilities per model (null for a model that failed). */
  private async predictAll(accepted: readonly FeatureVector[]): Promise<(Float32Array | null)[]> {
    const rows = accepted.length;
    const { nFeatures, windowLength, windowChannels, featureModels, windowModels } = this.inputs;
    const windowWidth = windowLength * windowChannels;
    // One input batch per input kind, built only if a model reads it: values [rows, F], windows [rows, L, C].
    const x = featureModels > 0 ? new Float32Array(rows * nFeatures) : undefined;
    if (x) accepted.forEach((v, i) => x.set(v.values, i * nFeatures));
    const w = windowModels > 0 ? new Float32Array(rows * windowWidth) : undefined;
    if (w) accepted.forEach((v, i) => w.set(v.window, i * windowWidth));
    const probs: (Float32Array | null)[] = [];
    for (const m of this.served) {
      const t0 = this.stopwatch();
      try {
        const p = await m.predict(m.card.input.kind === 'window' ? w! : x!, rows);
        if (p.length !== rows * 3) throw new ModelInputError(m.member, `${rows * 3} probabilities`, `${p.length}`);
        const seconds = (this.stopwatch() - t0) / 1000;
        this.m.latency.observe({ member: m.member }, seconds);
        this.m.inferred.inc({ member: m.member }, rows);
        this.supervisor.observeInference(m.member, m.version, true, seconds);
        probs.push(p);
      } catch (e) {
        // A failing model is a health problem the supervisor reports (and the CEO brain acts on), not a reason to stop
        // the stage: the others still vote. Wrong output shapes are the model's fault in the same way.
        this.m.errors.inc({ member: m.member });
        this.supervisor.observeInference(m.member, m.version, false, (this.stopwatch() - t0) / 1000);
        this.lastErrors.set(m.member, e instanceof Error ? `${e.name}: ${e.message}` : String(e));
        probs.push(null);
      }
    }
    return probs;
  }

  /**
   * Scores the outcomes a batch resolves: all of them feed the governance and the supervisor first, so every vote of the
   * bar is cast with the same weights (those in force once everything known at that bar time is counted); then one
   * model.scores.v1 message per vote, with the weight after. Weights are computed once per market volatility regime.
   */
  private scoreOutcomes(resolved: readonly ResolvedOutcome[], tsInit: number, weightsOf: (r: VolRegime) => Readonly<Record<string, number>>, result: Outgoing[]): void {
    for (const o of resolved) this.governance.observeOutcome(o);
    for (const o of resolved) {
      const bar = o.bar;
      const key = `${bar.exchange}:${bar.symbol}`;
      const weights = weightsOf(bar.volRegime);
      for (const v of bar.votes) {
        const b = brier(v.pDown, v.pFlat, v.pUp, o.label);
        if (v.member !== ENSEMBLE_MEMBER) this.supervisor.observeOutcome(v.member, v.modelVersion, b);
        const ew = this.governance.ewLogLoss(v.member, v.modelVersion);
        const score: MemberScore = {
          id: deriveId('score', bar.featureId, v.member, v.modelVersion),
          tsEvent: o.tsEvent,
          tsInit,
          exchange: bar.exchange,
          symbol: bar.symbol,
          featureId: bar.featureId,
          tsVote: bar.tsVote,
          member: v.member,
          modelVersion: v.modelVersion,
          role: v.role,
          label: CLASS_NAMES[o.label],
          fwdRet: o.fwdRet,
          pDown: v.pDown,
          pFlat: v.pFlat,
          pUp: v.pUp,
          logLoss: logLoss(v.pDown, v.pFlat, v.pUp, o.label),
          brier: b,
          hit: predictedClass(v.pDown, v.pFlat, v.pUp) === o.label,
          ewLogLoss: ew,
          weight: v.member === ENSEMBLE_MEMBER ? 1 : v.role === 'CHAMPION' ? (weights[v.member] ?? 0) : 0,
          volRegime: bar.volRegime,
        };
        this.m.outcomes.inc({ member: v.member, role: v.role });
        if (Number.isFinite(ew)) this.m.ewLogLoss.set({ member: v.member, role: v.role }, ew);
        result.push(out('model.scores.v1', key, score));
      }
    }
  }

  /** Scores one micro-batch of feature vectors (see the class comment); tsInit stamps every message. */
  async score(batch: readonly FeatureVector[], tsInit: number): Promise<Outgoing[]> {
    const accepted: FeatureVector[] = [];
    const result: Outgoing[] = [];
    for (const v of batch) {
      const why = rejectionOf(this.inputs, v);
      if (why) result.push(out('feat.vectors.v1.dlq', instrumentKey(v), vectorDeadLetter(v, why[0], why[1], tsInit)));
      else accepted.push(v);
    }
    if (accepted.length === 0) return result;
    const probs = await this.predictAll(accepted);
    // The bar's regimes and the outcomes it resolves come first: the votes below are weighed with everything known.
    const regimes = accepted.map((v) => this.regimes.observe(v));
    const resolved: ResolvedOutcome[] = [];
    for (const v of accepted) {
      resolved.push(...this.outcomes.observe(v));
      this.supervisor.observeVector(v.values, v.tsEvent);
    }
    const cache = new Map<VolRegime, Readonly<Record<string, number>>>();
    const weightsOf = (r: VolRegime): Readonly<Record<string, number>> => {
      let w = cache.get(r);
      if (w === undefined) cache.set(r, (w = this.governance.weights(r)));
      return w;
    };
    this.scoreOutcomes(resolved, tsInit, weightsOf, result);
    for (let row = 0; row < accepted.length; row++) {
      const v = accepted[row]!;
      const regime = regimes[row]!;
      const key = instrumentKey(v);
      const weights = this.deps.weights ?? weightsOf(regime.marketVolatility);
      const acting: WeightedVote[] = [];
      const pending: PendingVote[] = [];
      const supervised: { member: string; version: string; role: 'CHAMPION' | 'SHADOW'; pDown: number; pFlat: number; pUp: number }[] = [];
      this.served.forEach((m, j) => {
        const p = probs[j];
        if (!p) return;
        const [pDown, pFlat, pUp] = [p[row * 3]!, p[row * 3 + 1]!, p[row * 3 + 2]!];
        const vote: ModelVote = {
          id: deriveId('vote', v.id, m.member, m.version),
          tsEvent: v.tsEvent,
          tsInit,
          exchange: v.exchange,
          symbol: v.symbol,
          featureId: v.id,
          member: m.member,
          modelVersion: m.version,
          role: m.role,
          pDown,
          pFlat,
          pUp,
        };
        result.push(out('model.votes.v1', key, vote));
        pending.push({ member: m.member, modelVersion: m.version, role: m.role, pDown, pFlat, pUp });
        supervised.push({ member: m.member, version: m.version, role: m.role, pDown, pFlat, pUp });
        if (m.role === 'CHAMPION') acting.push({ member: m.member, modelVersion: m.version, weight: weights[m.member] ?? 1, pDown, pFlat, pUp });
      });
      const signal = acting.length > 0 ? this.signalOf(v, acting, supervised, regime, tsInit) : this.silentSignal(v, regime, tsInit);
      if (acting.length > 0) {
        pending.push({ member: ENSEMBLE_MEMBER, modelVersion: this.version, role: 'CHAMPION', pDown: signal.pDown, pFlat: signal.pFlat, pUp: signal.pUp });
      }
      this.outcomes.add({
        featureId: v.id,
        exchange: v.exchange,
        symbol: v.symbol,
        openTime: v.openTime,
        tsVote: v.tsEvent,
        close: v.close,
        vol: v.values[iVol]!,
        volRegime: regime.marketVolatility,
        votes: pending,
      });
      this.m.signals.inc({ signal: signal.signal });
      result.push(out('ens.signals.v1', key, signal));
    }
    this.afterBatch(accepted.at(-1)!, regimes.at(-1)!, tsInit, result);
    return result;
  }

  private signalOf(
    v: FeatureVector,
    acting: readonly WeightedVote[],
    supervised: Parameters<Supervisor['observeVotes']>[1],
    regime: Regime,
    tsInit: number,
  ): EnsembleSignal {
    const sv = softVote(acting);
    this.supervisor.observeVotes(v.tsEvent, supervised, sv.signal);
    const verdict = this.supervisor.verdictFor(sv.signal);
    return {
      id: deriveId('sig', v.id, ...sv.members.map((m) => `${m.member}@${m.modelVersion}:${m.weight}`)),
      tsEvent: v.tsEvent,
      tsInit,
      exchange: v.exchange,
      symbol: v.symbol,
      featureId: v.id,
      pDown: sv.pDown,
      pFlat: sv.pFlat,
      pUp: sv.pUp,
      signal: sv.signal,
      confidence: sv.confidence,
      members: sv.members,
      supervisor: verdict.verdict,
      supervisorReason: verdict.reason,
      market: marketOf(v),
      supervisorAction: verdict.action,
      regime,
    };
  }

  /** No champion answered: a FLAT signal that says why, so the bar is not lost and the brains see the failure. */
  private silentSignal(v: FeatureVector, regime: Regime, tsInit: number): EnsembleSignal {
    const errors = [...this.lastErrors.entries()].map(([m, e]) => `${m}: ${e}`).join('; ');
    const flat: Signal = 'FLAT';
    return {
      id: deriveId('sig', v.id, 'no-champion'),
      tsEvent: v.tsEvent,
      tsInit,
      exchange: v.exchange,
      symbol: v.symbol,
      featureId: v.id,
      pDown: 0,
      pFlat: 1,
      pUp: 0,
      signal: flat,
      confidence: 0,
      members: [],
      supervisor: 'UNHEALTHY',
      supervisorReason: `no champion answered (${errors})`,
      market: marketOf(v),
      supervisorAction: 'OBSERVE',
      regime,
    };
  }

  private afterBatch(last: FeatureVector, regime: Regime, tsInit: number, result: Outgoing[]): void {
    for (const e of this.supervisor.drain(last.tsEvent, tsInit)) {
      this.m.supervisorEvents.inc({ check: e.check, status: e.status });
      this.m.raised.set({ scope: e.scope, check: e.check }, e.status === 'RAISED' ? 1 : 0);
      result.push(out('ens.supervisor.v1', e.scope, e));
    }
    if (!this.deps.weights) {
      const weights = this.governance.weights(regime.marketVolatility);
      for (const [member, w] of Object.entries(weights)) this.m.weight.set({ member }, w);
    }
    for (const r of ['LOW', 'NORMAL', 'HIGH'] as const) this.m.regime.set({ kind: 'volatility', regime: r }, regime.marketVolatility === r ? 1 : 0);
    for (const r of ['UP', 'DOWN', 'RANGE'] as const) this.m.regime.set({ kind: 'trend', regime: r }, regime.marketTrend === r ? 1 : 0);
  }
}
