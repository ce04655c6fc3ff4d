/**
 * A seeded synthetic market: per symbol, a hidden Markov regime chain (calm, trending up, trending down, volatile)
 * drives a GBM-like log price in event time with compound-Poisson jumps; trades arrive as a Poisson process whose
 * intensity rises with volatility, sizes are log-normal with a Pareto tail, and the taker side leans with the
 * short-term drift. Every random draw comes from seeded streams, one per symbol and purpose, so a symbol's path does
 * not change when other symbols are added.
 */
import { MergeHeap } from './merge-heap.ts';
import { Observable } from 'rxjs';
import type { SourceRecord } from '../schemas/source-record.ts';
import type { Side, Trade } from '../schemas/trade.ts';
import { createRng, deriveSeed, type Rng } from './rng.ts';
import {
  REGIMES,
  RegimeChain,
  regimeModel,
  SyntheticMarketConfigError,
  type Regime,
  type RegimeModel,
  type RegimeParams,
  type RegimeSpan,
} from './synthetic-regimes.ts';

export {
  DEFAULT_REGIME_PARAMS,
  DEFAULT_TRANSITIONS,
  REGIMES,
  SyntheticMarketConfigError,
  type Regime,
  type RegimeParams,
  type RegimeSpan,
} from './synthetic-regimes.ts';

/** The exchange id of synthetic instruments. */
export const SYNTHETIC_EXCHANGE = 'synthetic';
/** The source name in SourceRecord.source. */
export const SYNTHETIC_SOURCE = 'synthetic';

const DAY = 86_400_000;

/** Options of the synthetic market. */
export interface SyntheticMarketOptions {
  /** A count (realistic names first, then SYN<i>/USDT) or explicit unified symbols. */
  readonly symbols: number | readonly string[];
  readonly seed: number;
  /** Start of the market, ms (inclusive). */
  readonly fromMs: number;
  /** End of the market, ms (exclusive). */
  readonly toMs: number;
  /** Long-run average trades per minute per symbol (default 60). */
  readonly tradesPerMinute?: number;
  /** Starting prices by symbol; others come from the preset list or from the symbol's name. */
  readonly startPrices?: Readonly<Record<string, number>>;
  /** Overrides of the regime parameters. */
  readonly regimes?: { readonly [R in Regime]?: Partial<RegimeParams> };
  /** Overrides of the switching probabilities. */
  readonly transitions?: { readonly [R in Regime]: { readonly [S in Regime]: number } };
  /** Exchange id (default `synthetic`). */
  readonly exchange?: string;
  /** Memory of the short-term drift that steers the taker side (default 30 s). */
  readonly momentumMs?: number;
  /** How far the buy probability leans with the drift: 0.5 ± skew (default 0.35). */
  readonly sideSkew?: number;
  /** Median trade notional in quote currency (default 200). */
  readonly medianNotional?: number;
  /** Log-normal sigma of trade sizes (default 1). */
  readonly sizeSigma?: number;
  /** Share of trades whose notional is multiplied by a Pareto factor (default 0.02). */
  readonly tailProbability?: number;
  /** Pareto exponent of that factor (default 1.5: infinite variance, a heavy tail). */
  readonly tailAlpha?: number;
}

// Base, starting price and volatility scale: roughly how these markets relate to each other.
const PRESETS: readonly (readonly [string, number, number])[] = [
  ['BTC', 60000, 1], ['ETH', 3000, 1.25], ['SOL', 150, 1.7], ['BNB', 550, 1.1], ['XRP', 0.55, 1.5], ['ADA', 0.45, 1.6],
  ['DOGE', 0.12, 2], ['AVAX', 30, 1.8], ['LINK', 14, 1.7], ['LTC', 75, 1.4], ['DOT', 6.5, 1.6], ['TRX', 0.16, 1.1],
];

/** The symbols a count names: the preset bases against USDT, then SYN<i>/USDT; a list is returned as given. */
export function syntheticSymbols(symbols: number | readonly string[]): readonly string[] {
  if (typeof symbols !== 'number') return symbols;
  if (!Number.isInteger(symbols) || symbols < 1) throw new SyntheticMarketConfigError('symbols', `must be a positive integer, got ${symbols}`);
  return Array.from({ length: symbols }, (_, i) => (i < PRESETS.length ? `${PRESETS[i]![0]}/USDT` : `SYN${i}/USDT`));
}

interface Resolved extends RegimeModel {
  readonly exchange: string;
  readonly symbols: readonly string[];
}

function resolve(opts: SyntheticMarketOptions): Resolved {
  if (!Number.isFinite(opts.fromMs) || !Number.isFinite(opts.toMs) || opts.toMs <= opts.fromMs) {
    throw new SyntheticMarketConfigError('fromMs/toMs', `must be finite with fromMs < toMs, got ${opts.fromMs}, ${opts.toMs}`);
  }
  const symbols = syntheticSymbols(opts.symbols);
  if (symbols.length === 0 || new Set(symbols).size !== symbols.length) throw new SyntheticMarketConfigError('symbols', 'must be non-empty and distinct');
  const model = regimeModel({ regimes: opts.regimes, transitions: opts.transitions, tradesPerMinute: opts.tradesPerMinute ?? 60 });
  return { ...model, exchange: opts.exchange ?? SYNTHETIC_EXCHANGE, symbols };
}

function startPrice(symbol: string, opts: SyntheticMarketOptions): { price: number; volScale: number } {
  const given = opts.startPrices?.[symbol];
  const preset = PRESETS.find(([b]) => `${b}/USDT` === symbol);
  if (given !== undefined) {
    if (!(given > 0) || !Number.isFinite(given)) throw new SyntheticMarketConfigError('startPrices', `${symbol} must be positive`);
    return { price: given, volScale: preset?.[2] ?? 1.5 };
  }
  if (preset) return { price: preset[1], volScale: preset[2] };
  const r = createRng(deriveSeed('start-price', symbol));
  return { price: Number((10 ** (-1 + 4 * r.next())).toPrecision(3)), volScale: 1 + r.next() };
}

/** The hidden regime timeline of every symbol, [fromMs, toMs) clipped to the market's span, by symbol then time. */
export function syntheticRegimes(opts: SyntheticMarketOptions): RegimeSpan[] {
  const cfg = resolve(opts);
  const spans: RegimeSpan[] = [];
  for (const symbol of cfg.symbols) {
    const chain = new RegimeChain(cfg, opts.seed, symbol, opts.fromMs);
    for (;;) {
      spans.push({ exchange: cfg.exchange, symbol, regime: REGIMES[chain.regime]!, fromMs: chain.start, toMs: Math.min(chain.end, opts.toMs) });
      if (chain.end >= opts.toMs) break;
      chain.advance();
    }
  }
  return spans;
}

/** One symbol's event-time simulation; `pending` is its next trade, or null when it has passed toMs. */
class SymbolSim {
  pending: Trade | null = null;
  private readonly rng: Rng;
  private readonly chain: RegimeChain;
  private readonly mu: number[];
  private readonly sigma: number[];
  private readonly jumpRate: number[];
  private readonly jumpSigma: number[];
  private readonly idPrefix: string;
  private readonly priceScale: number;
  private readonly sizeScale: number;
  private readonly invTau: number;
  private readonly sqrtTau: number;
  private readonly skew: number;
  private readonly logNotional: number;
  private readonly sizeSigma: number;
  private readonly tailP: number;
  private readonly invTailAlpha: number;
  private t: number;
  private logP: number;
  private momentum = 0;
  private jumpHazard: number;
  private seq = 0;

  constructor(
    private readonly cfg: Resolved,
    readonly symbol: string,
    readonly rank: number,
    private readonly opts: SyntheticMarketOptions,
  ) {
    this.rng = createRng(deriveSeed(opts.seed, symbol, 'trades'));
    this.chain = new RegimeChain(cfg, opts.seed, symbol, opts.fromMs);
    const { price, volScale } = startPrice(symbol, opts);
    this.mu = cfg.params.map((p) => p.driftPerDay / DAY);
    this.sigma = cfg.params.map((p) => (p.volPerDay * volScale) / Math.sqrt(DAY));
    this.jumpRate = cfg.params.map((p) => p.jumpsPerDay / DAY);
    this.jumpSigma = cfg.params.map((p) => p.jumpSigma * volScale);
    this.idPrefix = `${cfg.exchange}:${symbol}:`;
    // Tick of about 1e-5 of the starting price, lot of about 1e-5 of the median notional, both powers of ten.
    const mag = Math.floor(Math.log10(price));
    this.priceScale = 10 ** Math.min(8, Math.max(0, 5 - mag));
    this.sizeScale = 10 ** Math.min(8, Math.max(0, mag + 1));
    const tau = opts.momentumMs ?? 30_000;
    this.invTau = 1 / tau;
    this.sqrtTau = Math.sqrt(tau);
    this.skew = opts.sideSkew ?? 0.35;
    this.logNotional = Math.log(opts.medianNotional ?? 200);
    this.sizeSigma = opts.sizeSigma ?? 1;
    this.tailP = opts.tailProbability ?? 0.02;
    this.invTailAlpha = 1 / (opts.tailAlpha ?? 1.5);
    this.t = opts.fromMs;
    this.logP = Math.log(price);
    this.jumpHazard = this.rng.exponential(1);
    this.advance();
  }

  private evolve(dt: number, r: number): void {
    const rng = this.rng;
    let d = this.mu[r]! * dt + this.sigma[r]! * Math.sqrt(dt) * rng.normal();
    this.jumpHazard -= this.jumpRate[r]! * dt;
    while (this.jumpHazard <= 0) {
      d += this.jumpSigma[r]! * rng.normal();
      this.jumpHazard += rng.exponential(1);
    }
    this.logP += d;
    this.momentum = this.momentum * Math.exp(-dt * this.invTau) + d;
  }

  /** Moves to the next trade; false when it would fall at or after toMs. */
  advance(): boolean {
    const chain = this.chain;
    const lambda = this.cfg.lambdaPerMs;
    // A unit-rate hazard budget spent across regime switches gives exact arrivals for a piecewise-constant intensity.
    let budget = this.rng.exponential(1);
    for (;;) {
      const r = chain.regime;
      const lam = lambda[r]!;
      const toSwitch = chain.end - this.t;
      if (budget <= lam * toSwitch) {
        const dt = budget / lam;
        this.evolve(dt, r);
        this.t += dt;
        break;
      }
      budget -= lam * toSwitch;
      if (toSwitch > 0) this.evolve(toSwitch, r);
      this.t = chain.end;
      if (this.t >= this.opts.toMs) break;
      chain.advance();
    }
    if (this.t >= this.opts.toMs) {
      this.pending = null;
      return false;
    }
    const r = chain.regime;
    const rng = this.rng;
    const ps = this.priceScale;
    const price = Math.max(1, Math.round(Math.exp(this.logP) * ps)) / ps;
    const pBuy = 0.5 + this.skew * Math.tanh(this.momentum / (this.sigma[r]! * this.sqrtTau));
    const side: Side = rng.next() < pBuy ? 'BUY' : 'SELL';
    let notional = Math.exp(this.logNotional + this.sizeSigma * rng.normal());
    if (rng.next() < this.tailP) notional *= Math.min(1e3, (1 - rng.next()) ** -this.invTailAlpha);
    const ss = this.sizeScale;
    const size = Math.max(1, Math.round((notional / price) * ss)) / ss;
    const ts = Math.floor(this.t);
    const tradeId = String(++this.seq);
    this.pending = {
      id: this.idPrefix + tradeId,
      tsEvent: ts,
      tsInit: ts,
      exchange: this.cfg.exchange,
      symbol: this.symbol,
      tradeId,
      price,
      size,
      side,
    };
    return true;
  }
}

function before(a: SymbolSim, b: SymbolSim): boolean {
  const ta = a.pending!.tsEvent;
  const tb = b.pending!.tsEvent;
  return ta < tb || (ta === tb && a.rank < b.rank);
}

/** Merges the symbols' trades in (tsEvent, symbol) order with a binary heap. */
class MergedTrades implements Iterator<Trade> {
  private readonly heap: MergeHeap<SymbolSim>;

  constructor(sims: SymbolSim[]) {
    this.heap = new MergeHeap(sims.filter((s) => s.pending !== null), before);
  }

  next(): IteratorResult<Trade> {
    const top = this.heap.top();
    if (top === undefined) return { done: true, value: undefined };
    const trade = top.pending!;
    if (top.advance()) this.heap.topChanged();
    else this.heap.removeTop();
    return { done: false, value: trade };
  }
}

/**
 * The synthetic trades of every symbol in global event-time order (ties by symbol name), tsInit = tsEvent. The
 * iterable can be iterated again and gives the same sequence each time.
 */
export function syntheticTrades(opts: SyntheticMarketOptions): Iterable<Trade> {
  const cfg = resolve(opts);
  const ranks = [...cfg.symbols].sort();
  return {
    [Symbol.iterator]: () => new MergedTrades(cfg.symbols.map((s) => new SymbolSim(cfg, s, ranks.indexOf(s), opts))),
  };
}

/** A source record of a synthetic trade; its raw JSON is rendered only when someone reads it (dead letters). */
class SyntheticRecord implements SourceRecord<Trade> {
  readonly source = SYNTHETIC_SOURCE;
  constructor(
    readonly offset: number,
    readonly value: Trade,
  ) {}

  get raw(): string {
    return JSON.stringify(this.value);
  }
}

/** The synthetic trades as source records in batches (offset = 0-based sequence number), for fast replay loops. */
export function* syntheticRecordBatches(opts: SyntheticMarketOptions, batchSize = 4096): Generator<SourceRecord<Trade>[]> {
  let batch: SourceRecord<Trade>[] = [];
  let offset = 0;
  for (const t of syntheticTrades(opts)) {
    batch.push(new SyntheticRecord(offset++, t));
    if (batch.length >= batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/** The synthetic market as an Observable of source records, emitted synchronously on subscribe. */
export function syntheticMarket(opts: SyntheticMarketOptions): Observable<SourceRecord<Trade>> {
  return new Observable<SourceRecord<Trade>>((sub) => {
    let offset = 0;
    for (const t of syntheticTrades(opts)) {
      if (sub.closed) return;
      sub.next(new SyntheticRecord(offset++, t));
    }
    sub.complete();
  });
}
