import { defer, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { concatMap } from 'rxjs/operators';
import type { Signal, SupervisorAction, SupervisorVerdict } from '../../schemas/ensemble-signal.ts';
import { deriveId } from '../../schemas/ids.ts';
import type { ModelRole } from '../../schemas/model-vote.ts';
import type { SupervisorCheck, SupervisorEvent, SupervisorStatus } from '../../schemas/supervisor-event.ts';
import { FEATURE_NAMES } from '../features/feature-set.ts';
import { binOf, RollingHistogram } from './psi.ts';
import { predictedClass } from './scoring.ts';

/**
 * Settings of the supervisor. Every check raises when its value goes above the raise level and clears only when it
 * falls to the clear level or below (hysteresis), so a value hovering at the limit does not make the verdict flap.
 */
export interface SupervisorConfig {
  /** Votes of a member (signals of the ensemble) in the bias window; bias is judged once the window is full. */
  readonly biasWindow: number;
  /** BIAS when more than this share of the window is on one side (UP/LONG or DOWN/SHORT). */
  readonly biasShare: number;
  /** A raised bias clears when the share of its side is at most this. */
  readonly biasClearShare: number;
  /** enforce: a bias of the ensemble or a champion blocks entries on its side; observe: it is only journaled. */
  readonly biasMode: 'enforce' | 'observe';
  /** Feature vectors in the feature-drift window; PSI is judged once the window is full. */
  readonly psiWindow: number;
  /** Feature PSI is evaluated every this many vectors (one evaluation costs members x features x bins). */
  readonly psiEvery: number;
  /** FEATURE_DRIFT when a member's largest feature PSI is above this (0.25: the usual "major shift" level). */
  readonly psiThreshold: number;
  /** A raised FEATURE_DRIFT clears when the largest PSI is at most this. */
  readonly psiClearThreshold: number;
  /** Votes of a member in the prediction-drift window; judged once the window is full, at every vote. */
  readonly predictionWindow: number;
  /** PREDICTION_DRIFT when the PSI of predicted-class shares against the card's validation shares is above this. */
  readonly predictionPsiThreshold: number;
  /** A raised PREDICTION_DRIFT clears when that PSI is at most this. */
  readonly predictionPsiClearThreshold: number;
  /** Scored outcomes of a member in the rolling Brier window; judged once the window is full. */
  readonly brierWindow: number;
  /** BRIER_DEGRADATION when the rolling Brier is above the card's validation Brier x (1 + this). */
  readonly brierDegradation: number;
  /** A raised BRIER_DEGRADATION clears when the rolling Brier is at most the card's x (1 + this). */
  readonly brierClearDegradation: number;
  /** Inference calls of a member remembered for the error count. */
  readonly errorWindow: number;
  /** INFERENCE_ERRORS when more than this many of the remembered calls failed. */
  readonly maxErrors: number;
  /** A raised INFERENCE_ERRORS clears when at most this many of the remembered calls failed. */
  readonly errorsClear: number;
  /** Inference calls in the latency mean; judged once the window is full. */
  readonly latencyWindow: number;
  /** LATENCY when the mean seconds per inference call over the window is above this. */
  readonly latencyThresholdS: number;
  /** A raised LATENCY clears when the mean is at most this. */
  readonly latencyClearS: number;
}

/**
 * Defaults of the supervisor, for 1m bars: bias over the last 200 votes at 70% one way (clear at 60%); feature PSI
 * over the last 1440 vectors (a day of one symbol), evaluated every 60, major shift 0.25 (clear at 0.2); prediction PSI
 * over 1440 votes, same levels; rolling Brier over 500 outcomes, raised 10% above the card's (clear at 5%); more than
 * 2 failed calls of the last 60 (clear when none); a mean of more than 2 s per call over 60 calls (clear at 1 s).
 */
export const SUPERVISOR_DEFAULTS: SupervisorConfig = Object.freeze({
  biasWindow: 200,
  biasShare: 0.7,
  biasClearShare: 0.6,
  biasMode: 'enforce',
  psiWindow: 1440,
  psiEvery: 60,
  psiThreshold: 0.25,
  psiClearThreshold: 0.2,
  predictionWindow: 1440,
  predictionPsiThreshold: 0.25,
  predictionPsiClearThreshold: 0.2,
  brierWindow: 500,
  brierDegradation: 0.1,
  brierClearDegradation: 0.05,
  errorWindow: 60,
  maxErrors: 2,
  errorsClear: 0,
  latencyWindow: 60,
  latencyThresholdS: 2,
  latencyClearS: 1,
});

/** One feature's training distribution (a card's data.train.featureStats entry): 9 cut points, 10 bin shares. */
export interface FeatureBaseline {
  readonly feature: string;
  readonly edges: readonly number[];
  readonly shares: readonly number[];
}

/**
 * What the supervisor compares one member@version with: plain data from its card (the epic maps cards to baselines;
 * operators do not read models/). An absent field leaves that check unmonitored for the member.
 */
export interface MemberBaseline {
  readonly member: string;
  readonly version: string;
  readonly role: ModelRole;
  /** data.train.featureStats. */
  readonly featureStats?: readonly FeatureBaseline[];
  /** data.validation.predictionShares: DOWN, FLAT, UP. */
  readonly predictionShares?: readonly number[];
  /** metrics.model.brier: the validation Brier score. */
  readonly brier?: number;
}

/** One member's vote as the supervisor takes it. */
export interface SupervisedVote {
  readonly member: string;
  readonly version: string;
  readonly role: ModelRole;
  readonly pDown: number;
  readonly pFlat: number;
  readonly pUp: number;
}

/** The supervisor's verdict for a signal: what goes into its supervisor, supervisorReason and supervisorAction. */
export interface SignalVerdict {
  readonly verdict: SupervisorVerdict;
  readonly reason: string;
  readonly action: SupervisorAction;
}

/** A check raised now (for gauges and inspection). */
export interface RaisedCheck {
  readonly scope: string;
  readonly modelVersion: string;
  readonly role: ModelRole | null;
  readonly check: SupervisorCheck;
  readonly verdict: SupervisorVerdict;
  readonly action: SupervisorAction;
  readonly side: Signal | null;
  readonly value: number;
  readonly detail: string;
}

/** A supervisor setting or baseline that cannot work: a broken invariant of the caller. */
export class SupervisorConfigError extends Error {
  override readonly name = 'SupervisorConfigError';
  readonly retriable = false;
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`supervisor: ${field} ${detail}`);
  }
}

/** The scope of the ensemble's own checks (members use their name). */
export const ENSEMBLE_SCOPE = 'ensemble';

const SEVERITY: Readonly<Record<SupervisorVerdict, number>> = { OK: 0, BIAS: 1, DRIFT: 2, UNHEALTHY: 3 };

const VERDICT_OF: Readonly<Record<SupervisorCheck, SupervisorVerdict>> = {
  OTHER: 'DRIFT',
  BIAS: 'BIAS',
  FEATURE_DRIFT: 'DRIFT',
  PREDICTION_DRIFT: 'DRIFT',
  BRIER_DEGRADATION: 'DRIFT',
  INFERENCE_ERRORS: 'UNHEALTHY',
  LATENCY: 'UNHEALTHY',
};

/** Checks of a member, in the order their events are drained. */
const MEMBER_CHECKS = ['BIAS', 'FEATURE_DRIFT', 'PREDICTION_DRIFT', 'BRIER_DEGRADATION', 'INFERENCE_ERRORS', 'LATENCY'] as const;
type MemberCheck = (typeof MEMBER_CHECKS)[number];

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

/** Mean of the last `window` values: a ring buffer and a running sum, re-summed at every wrap so rounding cannot creep. */
export class RollingMean {
  private readonly ring: Float64Array;
  private next = 0;
  private n = 0;
  private sum = 0;

  constructor(readonly window: number) {
    this.ring = new Float64Array(window);
  }

  /** Adds one value; the oldest leaves once the window is full. */
  push(x: number): void {
    if (this.n === this.window) this.sum -= this.ring[this.next]!;
    else this.n++;
    this.ring[this.next] = x;
    this.sum += x;
    this.next++;
    if (this.next === this.window) {
      this.next = 0;
      if (this.n === this.window) {
        let s = 0;
        for (let i = 0; i < this.window; i++) s += this.ring[i]!;
        this.sum = s;
      }
    }
  }

  /** The mean of the values in the window; NaN when empty. */
  get mean(): number {
    return this.n === 0 ? Number.NaN : this.sum / this.n;
  }

  /** True once `window` values have been pushed. */
  get full(): boolean {
    return this.n === this.window;
  }
}

/** One check of one scope: the hysteresis state and what was last drained. */
interface CheckState {
  readonly check: SupervisorCheck;
  readonly verdict: SupervisorVerdict;
  readonly action: SupervisorAction;
  raised: boolean;
  side: Signal | null;
  /** The value at the last raise or clear (what the event reports). */
  value: number;
  /** The value at the last evaluation. */
  latest: number;
  raiseLevel: number;
  clearLevel: number;
  detail: string;
  /** The detail when it was raised: the reason a signal carries (stable while raised, so it does not churn). */
  raisedDetail: string;
  reported: boolean;
  reportedSide: Signal | null;
}

/** A live feature histogram, shared by the members whose cards cut the feature at the same edges. */
interface FeatureTrack {
  readonly feature: string;
  readonly index: number;
  readonly edges: readonly number[];
  readonly hist: RollingHistogram;
}

interface MemberState {
  readonly key: string;
  readonly member: string;
  readonly version: string;
  role: ModelRole;
  baseline: MemberBaseline | undefined;
  readonly bias: RollingHistogram;
  predictions: RollingHistogram | undefined;
  brier: RollingMean | undefined;
  features: { readonly stat: FeatureBaseline; readonly track: FeatureTrack }[];
  readonly calls: Uint8Array;
  callNext: number;
  callCount: number;
  errors: number;
  readonly latency: RollingMean;
  readonly checks: Record<MemberCheck, CheckState>;
}

interface Notice {
  readonly scope: string;
  readonly modelVersion: string;
  readonly check: SupervisorCheck;
  readonly threshold: number;
  readonly detail: string;
}

const keyOf = (member: string, version: string): string => `${member}@${version}`;

function newCheck(check: SupervisorCheck, action: SupervisorAction): CheckState {
  return {
    check,
    verdict: VERDICT_OF[check],
    action,
    raised: false,
    side: null,
    value: 0,
    latest: 0,
    raiseLevel: 0,
    clearLevel: 0,
    detail: '',
    raisedDetail: '',
    reported: false,
    reportedSide: null,
  };
}

/** The supervisor's settings overlaid on the defaults, validated; throws SupervisorConfigError on the first problem. */
export function supervisorConfig(config: Partial<SupervisorConfig> = {}): SupervisorConfig {
  const cfg: SupervisorConfig = { ...SUPERVISOR_DEFAULTS };
  for (const [k, v] of Object.entries(config)) if (v !== undefined) (cfg as unknown as Record<string, unknown>)[k] = v;
  const posInt = ['biasWindow', 'psiWindow', 'psiEvery', 'predictionWindow', 'brierWindow', 'errorWindow', 'latencyWindow'] as const;
  for (const k of posInt) if (!Number.isInteger(cfg[k]) || cfg[k] < 1) throw new SupervisorConfigError(k, `must be a positive integer, got ${cfg[k]}`);
  const below = (lo: keyof SupervisorConfig, hi: keyof SupervisorConfig): void => {
    const a = cfg[lo] as number;
    const b = cfg[hi] as number;
    if (!(a >= 0 && a < b)) throw new SupervisorConfigError(lo, `must be in [0, ${hi} = ${b}), got ${a}`);
  };
  if (!(cfg.biasShare > 0.5 && cfg.biasShare <= 1)) throw new SupervisorConfigError('biasShare', `must be in (0.5, 1], got ${cfg.biasShare}`);
  below('biasClearShare', 'biasShare');
  if (cfg.biasMode !== 'enforce' && cfg.biasMode !== 'observe') throw new SupervisorConfigError('biasMode', `must be enforce or observe, got ${String(cfg.biasMode)}`);
  below('psiClearThreshold', 'psiThreshold');
  below('predictionPsiClearThreshold', 'predictionPsiThreshold');
  below('brierClearDegradation', 'brierDegradation');
  below('errorsClear', 'maxErrors');
  if (!Number.isInteger(cfg.maxErrors) || cfg.maxErrors >= cfg.errorWindow) {
    throw new SupervisorConfigError('maxErrors', `must be an integer below errorWindow = ${cfg.errorWindow}, got ${cfg.maxErrors}`);
  }
  below('latencyClearS', 'latencyThresholdS');
  return Object.freeze(cfg);
}

function checkBaseline(b: MemberBaseline): void {
  const where = `baselines ${keyOf(b.member, b.version)}`;
  if (b.predictionShares !== undefined && b.predictionShares.length !== 3) {
    throw new SupervisorConfigError(where, `predictionShares has ${b.predictionShares.length} shares, not 3 (DOWN, FLAT, UP)`);
  }
  if (b.brier !== undefined && !(Number.isFinite(b.brier) && b.brier >= 0)) throw new SupervisorConfigError(where, `brier is ${b.brier}`);
  for (const s of b.featureStats ?? []) {
    if (s.shares.length !== s.edges.length + 1) {
      throw new SupervisorConfigError(where, `featureStats ${s.feature}: ${s.shares.length} shares for ${s.edges.length} edges (need edges + 1)`);
    }
  }
}

/**
 * The ensemble supervisor: watches the members and the ensemble for one-sided bias, feature drift, prediction drift,
 * Brier degradation, inference errors and latency, and gives each signal a verdict. Stateful, fed in event order,
 * O(1) per vote and per vector (feature PSI is evaluated every psiEvery vectors); `drain` returns the checks raised or
 * cleared since the last call. Shadows are supervised and journaled but never change a signal's verdict.
 */
export class Supervisor {
  readonly config: SupervisorConfig;
  private readonly featureIndex: ReadonlyMap<string, number>;
  private readonly members = new Map<string, MemberState>();
  private readonly tracks = new Map<string, FeatureTrack>();
  private readonly ensemble: { readonly bias: RollingHistogram; readonly check: CheckState };
  private retired: MemberState[] = [];
  private notices: Notice[] = [];
  private readonly noticed = new Set<string>();
  private vectors = 0;
  private changes = 0;
  private cachedAt = -1;
  private cache = new Map<Signal, SignalVerdict>();
  private newest = Number.NEGATIVE_INFINITY;

  constructor(config: Partial<SupervisorConfig> = {}, baselines: readonly MemberBaseline[] = [], featureNames: readonly string[] = FEATURE_NAMES) {
    this.config = supervisorConfig(config);
    this.featureIndex = new Map(featureNames.map((f, i) => [f, i]));
    this.ensemble = { bias: new RollingHistogram(3, this.config.biasWindow), check: newCheck('BIAS', this.biasAction()) };
    this.setBaselines(baselines);
  }

  /** The newest event time seen by observeVector / observeVotes; -Infinity before any. */
  get newestTs(): number {
    return this.newest;
  }

  /**
   * Replaces the roster: members kept (same member@version) keep their windows and take the new role (a promoted
   * shadow keeps its record); members gone are retired (their raised checks are drained as CLEARED); new members
   * start empty. A member without featureStats, predictionShares or brier is reported once as not monitored.
   */
  setBaselines(baselines: readonly MemberBaseline[]): void {
    const seen = new Set<string>();
    for (const b of baselines) {
      checkBaseline(b);
      const key = keyOf(b.member, b.version);
      if (seen.has(key)) throw new SupervisorConfigError('baselines', `${key} appears twice`);
      seen.add(key);
    }
    for (const [key, m] of this.members) {
      if (seen.has(key)) continue;
      this.members.delete(key);
      for (const c of Object.values(m.checks)) {
        if (c.raised) {
          c.raised = false;
          c.detail = `${key} left the roster`;
          this.changes++;
        }
      }
      this.retired.push(m);
    }
    // Rebuild the member order of the roster (drain and reasons follow it) and the shared feature tracks.
    const previous = new Map(this.members);
    this.members.clear();
    const oldTracks = new Map(this.tracks);
    this.tracks.clear();
    for (const b of baselines) {
      const key = keyOf(b.member, b.version);
      const m = previous.get(key) ?? this.newMember(b.member, b.version, b.role);
      if (m.role !== b.role) this.changes++;
      m.role = b.role;
      this.applyBaseline(m, b, oldTracks);
      this.members.set(key, m);
    }
    this.changes++;
  }

  /** One feature vector (values in featureNames order): feeds the feature histograms, judges drift every psiEvery. */
  observeVector(values: ArrayLike<number>, tsEvent: number): void {
    if (tsEvent > this.newest) this.newest = tsEvent;
    for (const t of this.tracks.values()) t.hist.push(t.index < values.length ? binOf(t.edges, values[t.index]!) : -1);
    this.vectors++;
    if (this.vectors % this.config.psiEvery === 0) this.judgeFeatures();
  }

  /**
   * The votes behind one signal and the ensemble's side: bias of each member (by predictedClass) and of the ensemble,
   * and each member's prediction drift. A member not in the roster is supervised from its first vote (unmonitored
   * where it has no baseline).
   */
  observeVotes(tsEvent: number, votes: readonly SupervisedVote[], ensembleSide: Signal): void {
    if (tsEvent > this.newest) this.newest = tsEvent;
    for (const v of votes) {
      const key = keyOf(v.member, v.version);
      let m = this.members.get(key);
      if (!m) {
        m = this.newMember(v.member, v.version, v.role);
        this.applyBaseline(m, undefined, this.tracks);
        this.members.set(key, m);
        this.changes++;
      } else if (m.role !== v.role) {
        m.role = v.role;
        this.changes++;
      }
      const cls = predictedClass(v.pDown, v.pFlat, v.pUp);
      m.bias.push(cls);
      this.judgeBias(m.checks.BIAS, m.bias, `votes of ${key} predict`, ['DOWN', 'FLAT', 'UP']);
      if (m.predictions) {
        m.predictions.push(cls);
        this.judgePredictions(m);
      }
    }
    this.ensemble.bias.push(ensembleSide === 'SHORT' ? 0 : ensembleSide === 'LONG' ? 2 : 1);
    this.judgeBias(this.ensemble.check, this.ensemble.bias, 'signals of the ensemble are', ['SHORT', 'FLAT', 'LONG']);
  }

  /**
   * The Brier score of one resolved vote of member@version (scoring.ts brier); judged once the window is full. Ignored
   * for a member@version neither in the roster nor seen voting, or without a card Brier.
   */
  observeOutcome(member: string, version: string, brier: number): void {
    const m = this.members.get(keyOf(member, version));
    if (!m?.brier || !Number.isFinite(brier)) return;
    m.brier.push(brier);
    if (!m.brier.full) return;
    const card = m.baseline!.brier!;
    const mean = m.brier.mean;
    const cfg = this.config;
    const detail = (): string =>
      `rolling Brier ${mean.toFixed(4)} of ${m.key} over the last ${cfg.brierWindow} outcomes against ${card.toFixed(4)} on the card (${mean >= card ? '+' : ''}${pct(card > 0 ? mean / card - 1 : 0)})`;
    this.judge(m.checks.BRIER_DEGRADATION, mean, card * (1 + cfg.brierDegradation), card * (1 + cfg.brierClearDegradation), detail);
  }

  /**
   * One inference call of member@version (the version too: a champion and its shadow share the member name but not
   * the session): whether it succeeded and how long it took, in seconds. Ignored for a member@version neither in the
   * roster nor seen voting.
   */
  observeInference(member: string, version: string, ok: boolean, seconds: number): void {
    const m = this.members.get(keyOf(member, version));
    if (!m) return;
    const cfg = this.config;
    const failed = ok ? 0 : 1;
    if (m.callCount === cfg.errorWindow) m.errors -= m.calls[m.callNext]!;
    else m.callCount++;
    m.calls[m.callNext] = failed;
    m.errors += failed;
    m.callNext = m.callNext + 1 === cfg.errorWindow ? 0 : m.callNext + 1;
    this.judge(m.checks.INFERENCE_ERRORS, m.errors, cfg.maxErrors, cfg.errorsClear, () => `${m.errors} of the last ${m.callCount} inference calls of ${m.key} failed`);
    if (Number.isFinite(seconds) && seconds >= 0) {
      m.latency.push(seconds);
      if (m.latency.full) {
        const mean = m.latency.mean;
        this.judge(m.checks.LATENCY, mean, cfg.latencyThresholdS, cfg.latencyClearS, () => `mean inference ${mean.toFixed(3)} s per call of ${m.key} over the last ${cfg.latencyWindow} calls`);
      }
    }
  }

  /**
   * The checks raised or cleared since the last call (net changes only: a check raised and cleared again in between
   * gives nothing), plus a one-time "not monitored" CLEARED notice per unmonitored check of a member. Ids derive from
   * scope, model version, check, status and tsEvent. Order: the ensemble, then members in roster order, then retired.
   */
  drain(tsEvent: number, tsInit: number): SupervisorEvent[] {
    const out: SupervisorEvent[] = [];
    const emit = (scope: string, modelVersion: string, c: CheckState, status: SupervisorStatus, side: Signal | null, detail = c.detail): void => {
      out.push({
        id: deriveId('sup', scope, modelVersion, c.check, status, tsEvent),
        tsEvent,
        tsInit,
        scope,
        modelVersion,
        check: c.check,
        status,
        verdict: c.verdict,
        action: c.action,
        side,
        value: c.value,
        threshold: status === 'RAISED' ? c.raiseLevel : c.clearLevel,
        detail,
      });
    };
    const diff = (scope: string, modelVersion: string, c: CheckState): void => {
      if (c.raised) {
        if (c.reported && c.reportedSide === c.side) return;
        if (c.reported) emit(scope, modelVersion, c, 'CLEARED', c.reportedSide, `the bias turned from ${c.reportedSide} to ${c.side}`);
        emit(scope, modelVersion, c, 'RAISED', c.side);
      } else if (c.reported) {
        emit(scope, modelVersion, c, 'CLEARED', c.reportedSide);
      }
      c.reported = c.raised;
      c.reportedSide = c.raised ? c.side : null;
    };
    diff(ENSEMBLE_SCOPE, '', this.ensemble.check);
    for (const m of [...this.members.values(), ...this.retired]) for (const k of MEMBER_CHECKS) diff(m.member, m.version, m.checks[k]);
    this.retired = [];
    for (const n of this.notices) {
      out.push({
        id: deriveId('sup', n.scope, n.modelVersion, n.check, 'CLEARED', tsEvent),
        tsEvent,
        tsInit,
        scope: n.scope,
        modelVersion: n.modelVersion,
        check: n.check,
        status: 'CLEARED',
        verdict: VERDICT_OF[n.check],
        action: 'OBSERVE',
        side: null,
        value: 0,
        threshold: n.threshold,
        detail: n.detail,
      });
    }
    this.notices = [];
    return out;
  }

  /**
   * The verdict for a signal on `side`: the most severe raised check of the ensemble or a champion (UNHEALTHY > DRIFT
   * > BIAS > OK) with every such check in the reason, most severe first; action BLOCK when an enforced bias is raised
   * on that very side, OBSERVE when something is raised that does not block it, NONE when OK. Cached until a check
   * changes, so a signal costs a map lookup.
   */
  verdictFor(side: Signal): SignalVerdict {
    if (this.cachedAt !== this.changes) {
      this.cache.clear();
      this.cachedAt = this.changes;
    }
    const hit = this.cache.get(side);
    if (hit) return hit;
    const raised: { label: string; c: CheckState }[] = [];
    if (this.ensemble.check.raised) raised.push({ label: ENSEMBLE_SCOPE, c: this.ensemble.check });
    for (const m of this.members.values()) {
      if (m.role !== 'CHAMPION') continue;
      for (const k of MEMBER_CHECKS) if (m.checks[k].raised) raised.push({ label: m.key, c: m.checks[k] });
    }
    let v: SignalVerdict;
    if (raised.length === 0) v = { verdict: 'OK', reason: '', action: 'NONE' };
    else {
      // A stable sort keeps the ensemble first and members in roster order within one severity.
      raised.sort((a, b) => SEVERITY[b.c.verdict] - SEVERITY[a.c.verdict]);
      const blocks = raised.some((r) => r.c.action === 'BLOCK' && r.c.side === side);
      v = {
        verdict: raised[0]!.c.verdict,
        reason: raised.map((r) => `${r.c.check} ${r.label}: ${r.c.raisedDetail}`).join('; '),
        action: blocks ? 'BLOCK' : 'OBSERVE',
      };
    }
    this.cache.set(side, v);
    return v;
  }

  /** The checks raised now, of every scope (shadows too), for gauges and inspection. */
  raisedChecks(): RaisedCheck[] {
    const out: RaisedCheck[] = [];
    const add = (scope: string, modelVersion: string, role: ModelRole | null, c: CheckState): void => {
      if (c.raised) out.push({ scope, modelVersion, role, check: c.check, verdict: c.verdict, action: c.action, side: c.side, value: c.latest, detail: c.raisedDetail });
    };
    add(ENSEMBLE_SCOPE, '', null, this.ensemble.check);
    for (const m of this.members.values()) for (const k of MEMBER_CHECKS) add(m.member, m.version, m.role, m.checks[k]);
    return out;
  }

  private biasAction(): SupervisorAction {
    return this.config.biasMode === 'enforce' ? 'BLOCK' : 'OBSERVE';
  }

  private newMember(member: string, version: string, role: ModelRole): MemberState {
    const cfg = this.config;
    const checks = {} as Record<MemberCheck, CheckState>;
    for (const k of MEMBER_CHECKS) checks[k] = newCheck(k, k === 'BIAS' ? this.biasAction() : 'OBSERVE');
    return {
      key: keyOf(member, version),
      member,
      version,
      role,
      baseline: undefined,
      bias: new RollingHistogram(3, cfg.biasWindow),
      predictions: undefined,
      brier: undefined,
      features: [],
      calls: new Uint8Array(cfg.errorWindow),
      callNext: 0,
      callCount: 0,
      errors: 0,
      latency: new RollingMean(cfg.latencyWindow),
      checks,
    };
  }

  /** Sets (or resets, when the baseline's data changed) the monitors that depend on the baseline. */
  private applyBaseline(m: MemberState, b: MemberBaseline | undefined, oldTracks: ReadonlyMap<string, FeatureTrack>): void {
    const cfg = this.config;
    // The role is not baseline data: a promotion keeps the windows.
    const data = (x: MemberBaseline): string => JSON.stringify([x.featureStats, x.predictionShares, x.brier]);
    const same = m.baseline !== undefined && b !== undefined && data(m.baseline) === data(b);
    if (!same) {
      m.baseline = b;
      m.predictions = b?.predictionShares ? new RollingHistogram(3, cfg.predictionWindow) : undefined;
      m.brier = b?.brier !== undefined ? new RollingMean(cfg.brierWindow) : undefined;
      for (const k of ['FEATURE_DRIFT', 'PREDICTION_DRIFT', 'BRIER_DEGRADATION'] as const) {
        if (m.checks[k].raised) {
          m.checks[k].raised = false;
          m.checks[k].detail = `baseline of ${m.key} replaced`;
          this.changes++;
        }
      }
    }
    m.features = [];
    const unknown: string[] = [];
    for (const stat of b?.featureStats ?? []) {
      const index = this.featureIndex.get(stat.feature);
      if (index === undefined) {
        unknown.push(stat.feature);
        continue;
      }
      const tk = `${stat.feature}\u0000${stat.edges.join(',')}`;
      let track = this.tracks.get(tk) ?? oldTracks.get(tk);
      if (!track) track = { feature: stat.feature, index, edges: stat.edges, hist: new RollingHistogram(stat.edges.length + 1, cfg.psiWindow) };
      this.tracks.set(tk, track);
      m.features.push({ stat, track });
    }
    if (m.features.length === 0) {
      const why = !b
        ? 'no baseline (not in the roster)'
        : !b.featureStats?.length
          ? 'the card has no featureStats'
          : `none of its featureStats features (${unknown.join(', ')}) is in the vector`;
      this.notice(m, 'FEATURE_DRIFT', cfg.psiThreshold, `not monitored: ${why}`);
    }
    if (!m.predictions) this.notice(m, 'PREDICTION_DRIFT', cfg.predictionPsiThreshold, `not monitored: ${b ? 'the card has no predictionShares' : 'no baseline (not in the roster)'}`);
    if (!m.brier) this.notice(m, 'BRIER_DEGRADATION', 0, `not monitored: ${b ? 'the card has no validation Brier' : 'no baseline (not in the roster)'}`);
  }

  private notice(m: MemberState, check: SupervisorCheck, threshold: number, detail: string): void {
    const k = `${m.key}\u0000${check}`;
    if (this.noticed.has(k)) return;
    this.noticed.add(k);
    this.notices.push({ scope: m.member, modelVersion: m.version, check, threshold, detail });
  }

  /**
   * Hysteresis: raise when value > raiseLevel, clear when value <= clearLevel. The detail is formatted only on a
   * change, so an evaluation without one costs a comparison.
   */
  private judge(c: CheckState, value: number, raiseLevel: number, clearLevel: number, detail: () => string): void {
    c.latest = value;
    if (c.raised ? value <= clearLevel : value > raiseLevel) {
      c.raised = !c.raised;
      c.value = value;
      c.raiseLevel = raiseLevel;
      c.clearLevel = clearLevel;
      c.detail = detail();
      if (c.raised) c.raisedDetail = c.detail;
      this.changes++;
    }
  }

  /** Bias of a window of classes 0 (SHORT side), 1, 2 (LONG side): clears the raised side first, then may raise one. */
  private judgeBias(c: CheckState, h: RollingHistogram, what: string, names: readonly [string, string, string]): void {
    if (!h.full) return;
    const cfg = this.config;
    const n = h.window;
    const shareOf = (side: Signal): number => h.count(side === 'LONG' ? 2 : 0) / n;
    const describe = (side: Signal): string => `${pct(shareOf(side))} of the last ${n} ${what} ${names[side === 'LONG' ? 2 : 0]}`;
    if (c.raised) {
      const side = c.side!;
      c.latest = shareOf(side);
      if (c.latest > cfg.biasClearShare) return;
      c.raised = false;
      c.value = c.latest;
      c.clearLevel = cfg.biasClearShare;
      c.detail = `${describe(side)} (<= ${pct(cfg.biasClearShare)})`;
      this.changes++;
    }
    const side: Signal | null = shareOf('LONG') > cfg.biasShare ? 'LONG' : shareOf('SHORT') > cfg.biasShare ? 'SHORT' : null;
    if (!side) return;
    c.raised = true;
    c.side = side;
    c.value = c.latest = shareOf(side);
    c.raiseLevel = cfg.biasShare;
    c.clearLevel = cfg.biasClearShare;
    c.detail = `${describe(side)} (> ${pct(cfg.biasShare)})`;
    c.raisedDetail = c.detail;
    this.changes++;
  }

  private judgePredictions(m: MemberState): void {
    const h = m.predictions!;
    if (!h.full) return;
    const cfg = this.config;
    const card = m.baseline!.predictionShares!;
    const v = h.psi(card);
    const live = (): string => [0, 1, 2].map((i) => pct(h.count(i) / h.total)).join('/');
    const detail = (): string => `PSI ${v.toFixed(3)} of predicted classes DOWN/FLAT/UP ${live()} over the last ${cfg.predictionWindow} votes of ${m.key} against ${card.map(pct).join('/')} on the card`;
    this.judge(m.checks.PREDICTION_DRIFT, v, cfg.predictionPsiThreshold, cfg.predictionPsiClearThreshold, detail);
  }

  private judgeFeatures(): void {
    const cfg = this.config;
    for (const m of this.members.values()) {
      let worst = Number.NEGATIVE_INFINITY;
      let worstFeature = '';
      let above = 0;
      let judged = 0;
      for (const { stat, track } of m.features) {
        if (!track.hist.full || track.hist.total === 0) continue;
        const v = track.hist.psi(stat.shares);
        judged++;
        if (v > cfg.psiThreshold) above++;
        if (v > worst) {
          worst = v;
          worstFeature = stat.feature;
        }
      }
      if (judged === 0) continue;
      const detail = (): string => `PSI ${worst.toFixed(3)} of ${worstFeature} over the last ${cfg.psiWindow} vectors against the training deciles of ${m.key} (${above} of ${judged} features above ${cfg.psiThreshold})`;
      this.judge(m.checks.FEATURE_DRIFT, worst, cfg.psiThreshold, cfg.psiClearThreshold, detail);
    }
  }
}

/** One input of the supervisor operator, each with the event time its events are drained at. */
export type SupervisorInput =
  | { readonly kind: 'vector'; readonly tsEvent: number; readonly values: ArrayLike<number> }
  | { readonly kind: 'votes'; readonly tsEvent: number; readonly votes: readonly SupervisedVote[]; readonly ensembleSide: Signal }
  | { readonly kind: 'outcome'; readonly tsEvent: number; readonly member: string; readonly version: string; readonly brier: number }
  | { readonly kind: 'inference'; readonly tsEvent: number; readonly member: string; readonly version: string; readonly ok: boolean; readonly seconds: number }
  | { readonly kind: 'baselines'; readonly tsEvent: number; readonly baselines: readonly MemberBaseline[] };

/** One output of the supervisor operator: a drained event, or the verdict for the ensemble side of a votes input. */
export type SupervisorOutput =
  | { readonly kind: 'event'; readonly event: SupervisorEvent }
  | ({ readonly kind: 'verdict'; readonly tsEvent: number; readonly side: Signal } & SignalVerdict);

/**
 * The supervisor as an operator (state per subscription): after each input, the events drained at its tsEvent (tsInit
 * from the scheduler), then for a votes input the verdict for its ensemble side.
 */
export function supervise(deps: {
  readonly scheduler: SchedulerLike;
  readonly config?: Partial<SupervisorConfig>;
  readonly baselines?: readonly MemberBaseline[];
  readonly featureNames?: readonly string[];
}): OperatorFunction<SupervisorInput, SupervisorOutput> {
  supervisorConfig(deps.config);
  return (source) =>
    defer(() => {
      const sup = new Supervisor(deps.config, deps.baselines, deps.featureNames);
      return source.pipe(
        concatMap((input): SupervisorOutput[] => {
          if (input.kind === 'vector') sup.observeVector(input.values, input.tsEvent);
          else if (input.kind === 'votes') sup.observeVotes(input.tsEvent, input.votes, input.ensembleSide);
          else if (input.kind === 'outcome') sup.observeOutcome(input.member, input.version, input.brier);
          else if (input.kind === 'inference') sup.observeInference(input.member, input.version, input.ok, input.seconds);
          else sup.setBaselines(input.baselines);
          const out: SupervisorOutput[] = sup.drain(input.tsEvent, deps.scheduler.now()).map((event) => ({ kind: 'event', event }));
          if (input.kind === 'votes') out.push({ kind: 'verdict', tsEvent: input.tsEvent, side: input.ensembleSide, ...sup.verdictFor(input.ensembleSide) });
          return out;
        }),
      );
    });
}
