/**
 * The hidden regime model of the synthetic market: four regimes, their parameters, and a continuous-time Markov chain
 * that switches between them at exponential holding times, one seeded chain per symbol.
 */
import { createRng, deriveSeed, type Rng } from './rng.ts';

/** The hidden regimes, in index order. */
export const REGIMES = ['calm', 'trend-up', 'trend-down', 'volatile'] as const;
/** A hidden market regime. */
export type Regime = (typeof REGIMES)[number];

/** How a regime moves the market. Per-day figures are in log-price units. */
export interface RegimeParams {
  /** Expected log return per day from the drift. */
  readonly driftPerDay: number;
  /** Standard deviation of the diffusion's log return per day (before the symbol's volatility scale). */
  readonly volPerDay: number;
  /** Relative trade intensity; normalised so the long-run average is tradesPerMinute. */
  readonly intensity: number;
  /** Expected number of jumps per day. */
  readonly jumpsPerDay: number;
  /** Standard deviation of a jump's log size (before the symbol's volatility scale). */
  readonly jumpSigma: number;
  /** Mean time spent in the regime before switching (exponentially distributed). */
  readonly meanDurationMs: number;
}

const MIN = 60_000;

/** Default regime parameters. */
export const DEFAULT_REGIME_PARAMS: { readonly [R in Regime]: RegimeParams } = {
  calm: { driftPerDay: 0, volPerDay: 0.02, intensity: 0.6, jumpsPerDay: 2, jumpSigma: 0.003, meanDurationMs: 90 * MIN },
  'trend-up': { driftPerDay: 0.4, volPerDay: 0.03, intensity: 1.1, jumpsPerDay: 4, jumpSigma: 0.005, meanDurationMs: 45 * MIN },
  'trend-down': { driftPerDay: -0.4, volPerDay: 0.03, intensity: 1.3, jumpsPerDay: 4, jumpSigma: 0.005, meanDurationMs: 45 * MIN },
  volatile: { driftPerDay: 0, volPerDay: 0.08, intensity: 2.5, jumpsPerDay: 24, jumpSigma: 0.015, meanDurationMs: 20 * MIN },
};

/** Default switching probabilities of the regime chain at a switch (rows sum to 1; no self-transitions). */
export const DEFAULT_TRANSITIONS: { readonly [R in Regime]: { readonly [S in Regime]: number } } = {
  calm: { calm: 0, 'trend-up': 0.35, 'trend-down': 0.35, volatile: 0.3 },
  'trend-up': { calm: 0.6, 'trend-up': 0, 'trend-down': 0.1, volatile: 0.3 },
  'trend-down': { calm: 0.6, 'trend-up': 0.1, 'trend-down': 0, volatile: 0.3 },
  volatile: { calm: 0.5, 'trend-up': 0.25, 'trend-down': 0.25, volatile: 0 },
};

/** One stretch of a symbol's hidden regime path, [fromMs, toMs). */
export interface RegimeSpan {
  readonly exchange: string;
  readonly symbol: string;
  readonly regime: Regime;
  readonly fromMs: number;
  readonly toMs: number;
}

/** Raised for options the market cannot run with. */
export class SyntheticMarketConfigError extends Error {
  override readonly name = 'SyntheticMarketConfigError';
  readonly retriable = false;
  constructor(readonly field: string, detail: string) {
    super(`synthetic market: ${field} ${detail}`);
  }
}

/** Regime parameters, switching law and trade intensities resolved from the options. */
export interface RegimeModel {
  /** Parameters by regime index (REGIMES order). */
  readonly params: readonly RegimeParams[];
  /** Cumulative switching probabilities by regime index. */
  readonly cumTransitions: readonly (readonly number[])[];
  /** Long-run share of time in each regime. */
  readonly stationary: readonly number[];
  /** Trade arrival rate per ms in each regime; the time-weighted average is tradesPerMinute / 60000. */
  readonly lambdaPerMs: readonly number[];
}

/** Builds the regime model; throws SyntheticMarketConfigError on an unusable switching law or rate. */
export function regimeModel(opts: {
  readonly regimes?: { readonly [R in Regime]?: Partial<RegimeParams> };
  readonly transitions?: { readonly [R in Regime]: { readonly [S in Regime]: number } };
  readonly tradesPerMinute: number;
}): RegimeModel {
  const rate = opts.tradesPerMinute;
  if (!(rate > 0) || !Number.isFinite(rate)) throw new SyntheticMarketConfigError('tradesPerMinute', `must be positive, got ${rate}`);
  const params = REGIMES.map((r) => ({ ...DEFAULT_REGIME_PARAMS[r], ...opts.regimes?.[r] }));
  const trans = opts.transitions ?? DEFAULT_TRANSITIONS;
  const matrix = REGIMES.map((r) => {
    const row = REGIMES.map((s) => trans[r][s]);
    const total = row.reduce((a, b) => a + b, 0);
    if (!(total > 0) || row.some((p) => !(p >= 0))) throw new SyntheticMarketConfigError('transitions', `row ${r} must be non-negative with a positive sum`);
    return row.map((p) => p / total);
  });
  const cumTransitions = matrix.map((row) => cumulative(row));
  // Stationary law of the jump chain by power iteration, then weighted by mean durations: the share of time per regime.
  let pi = REGIMES.map(() => 1 / REGIMES.length);
  for (let it = 0; it < 500; it++) pi = REGIMES.map((_, j) => pi.reduce((s, p, i) => s + p * matrix[i]![j]!, 0));
  const time = pi.map((p, i) => p * params[i]!.meanDurationMs);
  const timeTotal = time.reduce((a, b) => a + b, 0);
  const stationary = time.map((t) => t / timeTotal);
  const avgIntensity = stationary.reduce((s, w, i) => s + w * params[i]!.intensity, 0);
  const lambdaPerMs = params.map((p) => (rate / MIN) * (p.intensity / avgIntensity));
  return { params, cumTransitions, stationary, lambdaPerMs };
}

function cumulative(ws: readonly number[]): number[] {
  let acc = 0;
  return ws.map((w) => (acc += w));
}

function pick(cum: readonly number[], u: number): number {
  for (let i = 0; i < cum.length - 1; i++) if (u < cum[i]!) return i;
  return cum.length - 1;
}

/** The regime path of one symbol: a continuous-time Markov chain with exponential holding times on whole ms. */
export class RegimeChain {
  private readonly rng: Rng;
  /** Current regime index (REGIMES order). */
  regime: number;
  /** Start of the current regime, ms. */
  start: number;
  /** End of the current regime (exclusive), ms. */
  end: number;

  constructor(private readonly model: RegimeModel, seed: number, symbol: string, fromMs: number) {
    this.rng = createRng(deriveSeed(seed, symbol, 'regime'));
    // Starting from the stationary law with a fresh (memoryless) holding time keeps the chain stationary throughout.
    this.regime = pick(cumulative(model.stationary), this.rng.next());
    this.start = fromMs;
    this.end = fromMs + this.holding();
  }

  private holding(): number {
    return Math.max(1, Math.round(this.rng.exponential(1 / this.model.params[this.regime]!.meanDurationMs)));
  }

  /** Switches to the next regime at the end of the current one. */
  advance(): void {
    this.regime = pick(this.model.cumTransitions[this.regime]!, this.rng.next());
    this.start = this.end;
    this.end = this.start + this.holding();
  }
}
