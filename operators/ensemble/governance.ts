import { defer, type OperatorFunction } from 'rxjs';
import { map } from 'rxjs/operators';
import type { VolRegime } from '../../schemas/ensemble-signal.ts';
import type { ModelRole } from '../../schemas/model-vote.ts';
import type { ResolvedOutcome } from './outcomes.ts';
import { logLoss, type ClassIndex } from './scoring.ts';
import { withDefaults } from '../risk/with-defaults.ts';

/** Settings of the governance. */
export interface GovernanceConfig {
  /** Half-life of the exponential weighting, in outcomes of the member over all symbols (500: about 40 min of 12 symbols' 1m bars). */
  readonly halfLife: number;
  /** Largest weight of one champion: no member carries the vote alone, however good it looked lately. */
  readonly cap: number;
  /** Smallest weight of one champion: a member without skill keeps a say, so its record keeps being comparable. */
  readonly floor: number;
  /** Outcomes every champion needs (at the level used) before weights follow scores; equal weights before. */
  readonly minOutcomes: number;
  /** Weigh with the scores of the current market volatility regime when every champion has minOutcomes there. */
  readonly byRegime: boolean;
}

/** Defaults of the governance. */
export const GOVERNANCE_DEFAULTS: GovernanceConfig = Object.freeze({ halfLife: 500, cap: 0.4, floor: 0.1, minOutcomes: 200, byRegime: true });

/** A model version: scores are kept per member@version. */
export interface MemberRef {
  readonly member: string;
  readonly modelVersion: string;
}

/** A scored vote as the governance needs it (a PendingVote of the outcome tracker fits). */
export interface ScoredVote extends MemberRef {
  readonly role: ModelRole;
  readonly pDown: number;
  readonly pFlat: number;
  readonly pUp: number;
}

/** Normalised weights of the champions by member name, summing to 1 (empty without champions). */
export type Weights = Readonly<Record<string, number>>;

/** Where the weights came from: the regime's scores, the overall scores, or neither yet (equal weights). */
export type WeightBasis = 'REGIME' | 'OVERALL' | 'EQUAL';

/** Exponentially weighted scores of one member@version (overall or in one volatility regime). */
export interface MemberStats {
  /** Outcomes observed (not decayed). */
  readonly outcomes: number;
  /** Exponentially weighted mean log loss of the member. */
  readonly ewLogLoss: number;
  /** The same of the live class-prior baseline on the same outcomes. */
  readonly baselineEwLogLoss: number;
  /** max(0, baselineEwLogLoss - ewLogLoss). */
  readonly skill: number;
}

/** A governance setting or roster that cannot work: a broken invariant of the caller. */
export class GovernanceConfigError extends Error {
  override readonly name = 'GovernanceConfigError';
  readonly retriable = false;
  constructor(
    readonly field: 'halfLife' | 'cap' | 'floor' | 'minOutcomes' | 'raw' | 'champions',
    detail: string,
  ) {
    super(`governance: ${field} ${detail}`);
  }
}

/**
 * The weights in [floor, cap] summing to 1 nearest (Euclidean) to the normalised raw weights: w_i = clamp(p_i + λ,
 * floor, cap) with p = raw / sum(raw) (equal when every raw weight is 0) and λ found exactly by water-filling (the sum
 * is piecewise linear in λ; the root lies between two breakpoints). An excess above the cap is spread equally over
 * the members between the bounds, a shortfall below the floor taken equally from them. When the box holds no weights
 * summing to 1 (n * cap < 1, e.g. 2 members with cap 0.4, or n * floor > 1), the weights are equal (1/n each): the
 * bound that cannot hold is relaxed to 1/n, and then 1/n is the only feasible point.
 */
export function capFloor(raw: readonly number[], cap: number, floor: number): number[] {
  if (!(floor >= 0) || !(cap >= floor) || !(cap <= 1)) throw new GovernanceConfigError('cap', `and floor must satisfy 0 <= floor <= cap <= 1, got cap ${cap}, floor ${floor}`);
  const n = raw.length;
  if (n === 0) return [];
  let total = 0;
  for (const r of raw) {
    if (!(r >= 0) || !Number.isFinite(r)) throw new GovernanceConfigError('raw', `weights must be finite and >= 0, got ${raw.join()}`);
    total += r;
  }
  if (n * cap < 1 || n * floor > 1) return raw.map(() => 1 / n);
  const p = raw.map((r) => (total > 0 ? r / total : 1 / n));
  const sumAt = (lambda: number): number => {
    let s = 0;
    for (const x of p) s += Math.min(cap, Math.max(floor, x + lambda));
    return s;
  };
  const breaks = p.flatMap((x) => [floor - x, cap - x]).sort((a, b) => a - b);
  // sumAt(first break) = n * floor <= 1 <= n * cap = sumAt(last break): the root is bracketed.
  let lambda = breaks[breaks.length - 1]!;
  let lo = breaks[0]!;
  let fLo = sumAt(lo);
  for (let i = 1; i < breaks.length; i++) {
    const hi = breaks[i]!;
    const fHi = sumAt(hi);
    if (fHi >= 1) {
      lambda = fHi === fLo ? lo : lo + ((1 - fLo) * (hi - lo)) / (fHi - fLo);
      break;
    }
    lo = hi;
    fLo = fHi;
  }
  return p.map((x) => Math.min(cap, Math.max(floor, x + lambda)));
}

/**
 * Exponentially weighted log losses of a member and of the class-prior baseline on the same outcomes. The baseline's
 * prior is learned from the outcomes this track has seen (decayed with the same half-life), so each vote of an outcome
 * updates its own track without depending on the order in which the members of that outcome are observed.
 */
class Track {
  outcomes = 0;
  private weight = 0;
  private member = 0;
  private baseline = 0;
  /** Decayed class counts of the outcomes seen: the live class prior. */
  private readonly counts = [0, 0, 0];

  update(label: ClassIndex, loss: number, decay: number): void {
    const c = this.counts;
    // The baseline predicts the class frequencies before this outcome, with one pseudo-count per class (Laplace), so
    // its first prediction is uniform and never assigns 0.
    const pPrior = (c[label]! + 1) / (c[0]! + c[1]! + c[2]! + 3);
    this.weight = this.weight * decay + 1;
    this.member = this.member * decay + loss;
    this.baseline = this.baseline * decay - Math.log(pPrior);
    c[0]! *= decay;
    c[1]! *= decay;
    c[2]! *= decay;
    c[label]! += 1;
    this.outcomes++;
  }

  get ewLogLoss(): number {
    return this.outcomes > 0 ? this.member / this.weight : Number.NaN;
  }

  get baselineEwLogLoss(): number {
    return this.outcomes > 0 ? this.baseline / this.weight : Number.NaN;
  }

  get skill(): number {
    return this.outcomes > 0 ? Math.max(0, this.baseline / this.weight - this.member / this.weight) : 0;
  }

  stats(): MemberStats {
    return { outcomes: this.outcomes, ewLogLoss: this.ewLogLoss, baselineEwLogLoss: this.baselineEwLogLoss, skill: this.skill };
  }
}

const REGIME_INDEX: Readonly<Record<VolRegime, number>> = Object.freeze({ LOW: 0, NORMAL: 1, HIGH: 2 });

interface Scores {
  readonly overall: Track;
  readonly byRegime: readonly [Track, Track, Track];
}

const NO_WEIGHTS: Weights = Object.freeze({});

/**
 * Governance of the ensemble's weights from realised outcomes, without clocks. Every scored vote (champions, shadows,
 * the ensemble itself) updates the exponentially weighted mean log loss of its member@version, overall and in the
 * market volatility regime of the vote, and the same of a live class-prior baseline on the same outcomes. Only the
 * champions named by setMembers get weight: skill = max(0, baseline - member) per champion, weights proportional to
 * skill (all zero: equal), projected onto [floor, cap] with sum 1 (capFloor). With byRegime, the scores of the current
 * regime are used when every champion has minOutcomes outcomes there, else the overall scores when every champion has
 * minOutcomes overall, else equal weights.
 *
 * Scores belong to member@version: a new version starts with no history (its predecessor's record says nothing about
 * it), while a shadow promoted to champion keeps the record it earned as a shadow (same model, same outcomes).
 */
export class Governance {
  private readonly cfg: GovernanceConfig;
  private readonly decay: number;
  private readonly scores = new Map<string, Map<string, Scores>>();
  private champions: readonly MemberRef[] = [];
  private readonly cache: (Weights | undefined)[] = [undefined, undefined, undefined];
  private readonly basisCache: (WeightBasis | undefined)[] = [undefined, undefined, undefined];

  constructor(config: Partial<GovernanceConfig> = {}) {
    this.cfg = governanceConfig(config);
    this.decay = 2 ** (-1 / this.cfg.halfLife);
  }

  /**
   * A roster change: the champions (who get weight, in this order) and the other versions still scored (shadows, the
   * ensemble). Scores of every other member@version are forgotten (retired versions); a vote of one still resolving
   * later starts a new record that the next roster change forgets again.
   */
  setMembers(champions: readonly MemberRef[], scoredOnly: readonly MemberRef[] = []): void {
    const names = new Set(champions.map((c) => c.member));
    if (names.size !== champions.length) throw new GovernanceConfigError('champions', `name a member twice: ${champions.map(key).join(', ')}`);
    this.champions = champions.map((c) => ({ member: c.member, modelVersion: c.modelVersion }));
    const keep = new Set([...champions, ...scoredOnly].map(key));
    for (const [member, versions] of this.scores) {
      for (const version of versions.keys()) if (!keep.has(key({ member, modelVersion: version }))) versions.delete(version);
      if (versions.size === 0) this.scores.delete(member);
    }
    this.invalidate();
  }

  /** Scores one vote on its realised class, overall and in the market volatility regime at the vote. */
  observe(vote: ScoredVote, label: ClassIndex, volRegime: VolRegime): void {
    const s = this.scoresOf(vote.member, vote.modelVersion, true)!;
    const loss = logLoss(vote.pDown, vote.pFlat, vote.pUp, label);
    s.overall.update(label, loss, this.decay);
    s.byRegime[REGIME_INDEX[volRegime]]!.update(label, loss, this.decay);
    this.invalidate();
  }

  /** Scores every vote of a resolved outcome (the usual call: one per outcome). */
  observeOutcome(o: ResolvedOutcome): void {
    for (const v of o.bar.votes) this.observe(v, o.label, o.bar.volRegime);
  }

  /** The champions' weights in force in this market volatility regime (cached until the next observe or roster). */
  weights(volRegime: VolRegime): Weights {
    const i = REGIME_INDEX[volRegime];
    const cached = this.cache[i];
    if (cached !== undefined) return cached;
    const n = this.champions.length;
    if (n === 0) {
      this.basisCache[i] = 'EQUAL';
      return (this.cache[i] = NO_WEIGHTS);
    }
    const tracks = this.tracksFor(i);
    const raw = tracks === null ? this.champions.map(() => 0) : tracks.map((t) => t.skill);
    const w = capFloor(raw, this.cfg.cap, this.cfg.floor);
    const out: Record<string, number> = {};
    this.champions.forEach((c, j) => (out[c.member] = w[j]!));
    return (this.cache[i] = Object.freeze(out));
  }

  /** Which scores the weights of this regime follow. */
  weightBasis(volRegime: VolRegime): WeightBasis {
    const i = REGIME_INDEX[volRegime];
    if (this.basisCache[i] === undefined) this.weights(volRegime);
    return this.basisCache[i]!;
  }

  /** The overall exponentially weighted log loss of member@version (MemberScore.ewLogLoss); NaN before an outcome. */
  ewLogLoss(member: string, modelVersion: string): number {
    return this.scoresOf(member, modelVersion, false)?.overall.ewLogLoss ?? Number.NaN;
  }

  /** The scores of member@version, overall or in one volatility regime; undefined when it was never scored. */
  stats(member: string, modelVersion: string, volRegime?: VolRegime): MemberStats | undefined {
    const s = this.scoresOf(member, modelVersion, false);
    if (s === undefined) return undefined;
    return (volRegime === undefined ? s.overall : s.byRegime[REGIME_INDEX[volRegime]]!).stats();
  }

  /** The champions in force, in roster order. */
  roster(): readonly MemberRef[] {
    return this.champions;
  }

  /** The champions' tracks at the level the weights follow in regime i, or null for equal weights (basis cached). */
  private tracksFor(i: number): Track[] | null {
    const min = this.cfg.minOutcomes;
    const all = this.champions.map((c) => this.scoresOf(c.member, c.modelVersion, false));
    if (this.cfg.byRegime && all.every((s) => s !== undefined && s.byRegime[i]!.outcomes >= min)) {
      this.basisCache[i] = 'REGIME';
      return all.map((s) => s!.byRegime[i]!);
    }
    if (all.every((s) => s !== undefined && s.overall.outcomes >= min)) {
      this.basisCache[i] = 'OVERALL';
      return all.map((s) => s!.overall);
    }
    this.basisCache[i] = 'EQUAL';
    return null;
  }

  private scoresOf(member: string, modelVersion: string, create: boolean): Scores | undefined {
    let versions = this.scores.get(member);
    if (versions === undefined) {
      if (!create) return undefined;
      versions = new Map();
      this.scores.set(member, versions);
    }
    let s = versions.get(modelVersion);
    if (s === undefined && create) {
      s = { overall: new Track(), byRegime: [new Track(), new Track(), new Track()] };
      versions.set(modelVersion, s);
    }
    return s;
  }

  private invalidate(): void {
    this.cache[0] = this.cache[1] = this.cache[2] = undefined;
    this.basisCache[0] = this.basisCache[1] = this.basisCache[2] = undefined;
  }
}

function key(m: MemberRef): string {
  return `${m.member}@${m.modelVersion}`;
}

/** Defaults overlaid with the given settings, validated (GovernanceConfigError on a setting that cannot work). */
export function governanceConfig(config: Partial<GovernanceConfig> = {}): GovernanceConfig {
  const cfg = withDefaults(GOVERNANCE_DEFAULTS, config);
  if (!(cfg.halfLife > 0)) throw new GovernanceConfigError('halfLife', `must be > 0 (Infinity: a plain mean), got ${cfg.halfLife}`);
  if (!(cfg.floor >= 0) || !(cfg.cap >= cfg.floor) || !(cfg.cap <= 1)) {
    throw new GovernanceConfigError('cap', `and floor must satisfy 0 <= floor <= cap <= 1, got cap ${cfg.cap}, floor ${cfg.floor}`);
  }
  if (!Number.isInteger(cfg.minOutcomes) || cfg.minOutcomes < 0) throw new GovernanceConfigError('minOutcomes', `must be an integer >= 0, got ${cfg.minOutcomes}`);
  return cfg;
}

/** One input of the governance operator: a roster change or a resolved outcome. */
export type GovernanceInput =
  | { readonly kind: 'roster'; readonly tsEvent: number; readonly champions: readonly MemberRef[]; readonly scoredOnly?: readonly MemberRef[] }
  | { readonly kind: 'outcome'; readonly outcome: ResolvedOutcome };

/** The weights in force after an input, for each market volatility regime (the consumer picks the current one). */
export interface GovernanceUpdate {
  readonly tsEvent: number;
  readonly weights: Readonly<Record<VolRegime, Weights>>;
}

/** The Governance as an operator (state per subscription): outcomes and roster changes in, weights out, one per input. */
export function governanceWeights(config: Partial<GovernanceConfig> = {}): OperatorFunction<GovernanceInput, GovernanceUpdate> {
  governanceConfig(config);
  return (source) =>
    defer(() => {
      const gov = new Governance(config);
      return source.pipe(
        map((ev): GovernanceUpdate => {
          if (ev.kind === 'roster') gov.setMembers(ev.champions, ev.scoredOnly);
          else gov.observeOutcome(ev.outcome);
          const weights = { LOW: gov.weights('LOW'), NORMAL: gov.weights('NORMAL'), HIGH: gov.weights('HIGH') };
          return { tsEvent: ev.kind === 'roster' ? ev.tsEvent : ev.outcome.tsEvent, weights };
        }),
      );
    });
}
