import type { OperatorFunction } from 'rxjs';
import { scan } from 'rxjs/operators';
import type { RiskMode } from '../../schemas/brain-decision.ts';
import { instrumentKey } from '../../schemas/common.ts';
import type { SupervisorVerdict } from '../../schemas/ensemble-signal.ts';
import type { Equity } from '../../schemas/equity.ts';
import type { Position } from '../../schemas/position.ts';
import { EMPTY_MARKET_VIEW, MARKET_WATCH_DEFAULTS, type MarketView, type MarketWatchConfig } from './market-watch.ts';

/** Settings of the CEO brain. Drawdowns and shares are fractions (0.05 = 5%). */
export interface CeoConfig extends MarketWatchConfig {
  /** CRITICAL when more than this share of known symbols is stale. */
  readonly staleShareMax: number;
  readonly dailyDrawdownSafe: number;
  readonly dailyDrawdownCritical: number;
  readonly weeklyDrawdownSafe: number;
  readonly weeklyDrawdownCritical: number;
  /** Hysteresis band: a drawdown mode is left only when the drawdown falls below its threshold minus this. */
  readonly drawdownMargin: number;
  /** SAFE when the median realised volatility is at least this multiple of its slow EWMA. */
  readonly highVolRatio: number;
  /** Hysteresis band of the volatility ratio: SAFE for volatility holds down to highVolRatio - this. */
  readonly volRatioMargin: number;
  /** SAFE when the median ATR/close is at least this, whatever the EWMA says. */
  readonly highAtrPct: number;
  /** A calm regime (AGGRESSIVE allowed) has a volatility ratio at most this. */
  readonly calmVolRatio: number;
  /** Equity is "at a high" when within this fraction of its all-time peak. */
  readonly atHighTolerance: number;
  /** AGGRESSIVE needs this win rate over the recent closed positions; 0 turns the requirement off. */
  readonly aggressiveMinWinRate: number;
  /** Closed positions remembered for the win rate. */
  readonly winRateWindow: number;
  /** Closed positions needed before the win rate counts. */
  readonly aggressiveMinTrades: number;
  /** A mode is relaxed (left for a less cautious one) only after this many consecutive clear bar times. */
  readonly clearEvaluations: number;
}

/** Defaults of the CEO brain. */
export const CEO_DEFAULTS: CeoConfig = Object.freeze({
  ...MARKET_WATCH_DEFAULTS,
  staleShareMax: 0.5,
  dailyDrawdownSafe: 0.05,
  dailyDrawdownCritical: 0.1,
  weeklyDrawdownSafe: 0.1,
  weeklyDrawdownCritical: 0.2,
  drawdownMargin: 0.01,
  highVolRatio: 1.5,
  volRatioMargin: 0.2,
  highAtrPct: 0.01,
  calmVolRatio: 0.9,
  atHighTolerance: 0.005,
  aggressiveMinWinRate: 0.55,
  winRateWindow: 20,
  aggressiveMinTrades: 10,
  clearEvaluations: 5,
});

/**
 * One input of the CEO brain with the clock reading at which it is processed: the market view after a signal (from
 * the market watch; tsEvent is the signal's) with the signal's supervisor verdict and reason, an equity point or a
 * position update.
 */
export type CeoInput = { readonly now: number } & (
  | {
      readonly kind: 'market';
      readonly tsEvent: number;
      readonly market: MarketView;
      /** The signal's supervisor verdict: DRIFT puts the mode at least SAFE, UNHEALTHY CRITICAL. */
      readonly supervisor: SupervisorVerdict;
      readonly supervisorReason: string;
    }
  | { readonly kind: 'equity'; readonly equity: Equity }
  | { readonly kind: 'position'; readonly position: Position }
);

/** State of the CEO brain; immutable, replaced by each step. */
export interface CeoState {
  readonly mode: RiskMode;
  readonly reason: string;
  /** Why the current mode was entered (the reason shown while a relaxation is pending). */
  readonly entryReason: string;
  /** Consecutive clear bar times counted towards relaxing the mode. */
  readonly clearCount: number;
  /** Event time of the last evaluation that counted (or escalated); -Infinity at start. */
  readonly lastCountTs: number;
  readonly market: MarketView;
  /** The supervisor verdict of the latest signal, and why (the supervisor judges the ensemble, not one symbol). */
  readonly supervisor: SupervisorVerdict;
  readonly supervisorReason: string;
  readonly drawdownDay: number;
  readonly drawdownWeek: number;
  /** Latest equity; NaN before the first equity point. */
  readonly equity: number;
  /** All-time equity peak seen; NaN before the first equity point. */
  readonly peakEquity: number;
  /** Open positions: instrument key -> position id, to count each close once. */
  readonly open: ReadonlyMap<string, string>;
  /** Recent closed positions, oldest first: true for a win. */
  readonly results: readonly boolean[];
}

/** The result of one step: the new state, the mode in force and why, and whether the mode changed. */
export interface CeoStep {
  readonly state: CeoState;
  readonly mode: RiskMode;
  readonly reason: string;
  readonly changed: boolean;
}

const RANK: Readonly<Record<RiskMode, number>> = { AGGRESSIVE: 0, NORMAL: 1, SAFE: 2, CRITICAL: 3 };

/** The starting state: NORMAL, nothing seen. */
export function initialCeoState(): CeoState {
  return {
    mode: 'NORMAL',
    reason: 'start -> NORMAL',
    entryReason: 'start -> NORMAL',
    clearCount: 0,
    lastCountTs: Number.NEGATIVE_INFINITY,
    market: EMPTY_MARKET_VIEW,
    supervisor: 'OK',
    supervisorReason: '',
    drawdownDay: 0,
    drawdownWeek: 0,
    equity: Number.NaN,
    peakEquity: Number.NaN,
    open: new Map(),
    results: [],
  };
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const secs = (ms: number): string => `${Math.round(ms / 1000)}s`;

function eventTs(input: CeoInput): number {
  if (input.kind === 'market') return input.tsEvent;
  if (input.kind === 'equity') return input.equity.tsEvent;
  return input.position.tsEvent;
}

function observe(s: CeoState, input: CeoInput, cfg: CeoConfig): CeoState {
  if (input.kind === 'market') return { ...s, market: input.market, supervisor: input.supervisor, supervisorReason: input.supervisorReason };
  if (input.kind === 'equity') {
    const e = input.equity;
    const peak = Number.isNaN(s.peakEquity) ? e.equity : Math.max(s.peakEquity, e.equity);
    return { ...s, drawdownDay: e.drawdownDay, drawdownWeek: e.drawdownWeek, equity: e.equity, peakEquity: peak };
  }
  const p = input.position;
  const key = instrumentKey(p);
  const isOpen = p.side !== 'FLAT' && p.qty > 0;
  const held = s.open.get(key);
  if (isOpen) {
    if (held === p.positionId) return s;
    const open = new Map(s.open);
    open.set(key, p.positionId);
    return { ...s, open };
  }
  // Count a close once: only the first FLAT update of the position we saw open (redeliveries are ignored).
  if (held !== p.positionId) return s;
  const open = new Map(s.open);
  open.delete(key);
  const results = [...s.results, p.realizedPnl > 0].slice(-cfg.winRateWindow);
  return { ...s, open, results };
}

/** A candidate mode and its reason. */
interface Verdict {
  readonly mode: RiskMode;
  readonly reason: string;
}

/** True when `current` is at least as cautious as `mode`: the condition that put us there is held by its band. */
const holds = (current: RiskMode, mode: RiskMode): boolean => RANK[current] >= RANK[mode];

function drawdownRule(
  label: string,
  dd: number,
  threshold: number,
  mode: RiskMode,
  current: RiskMode,
  margin: number,
): Verdict | undefined {
  if (dd >= threshold) return { mode, reason: `${label} drawdown ${pct(dd)} >= ${pct(threshold)} -> ${mode}` };
  const band = threshold - margin;
  if (holds(current, mode) && dd >= band) {
    return { mode, reason: `${label} drawdown ${pct(dd)} still >= ${pct(band)} (band below ${pct(threshold)}) -> ${mode}` };
  }
  return undefined;
}

const supervisorRule = (s: CeoState, mode: RiskMode): Verdict => ({
  mode,
  reason: `supervisor ${s.supervisor}${s.supervisorReason ? `: ${s.supervisorReason}` : ''} -> ${mode}`,
});

/**
 * The rules, in priority order: stale data or an UNHEALTHY supervisor verdict (the inputs cannot be trusted), critical
 * drawdown, a DRIFT verdict (the models are outside what they were validated on), safe drawdown or high volatility,
 * calm and winning, else normal. The supervisor has its own hysteresis, so its rules need no band here; leaving the
 * mode when the verdict is OK again goes through the clear count like any other rule.
 */
function assess(s: CeoState, now: number, cfg: CeoConfig): Verdict {
  const market = s.market;
  if (market.newestTs > Number.NEGATIVE_INFINITY) {
    const lag = now - market.newestTs;
    if (lag > cfg.staleAfterMs) {
      return { mode: 'CRITICAL', reason: `stale: newest bar ${secs(lag)} behind the clock (> ${secs(cfg.staleAfterMs)}) -> CRITICAL` };
    }
    const share = market.symbols > 0 ? market.staleSymbols / market.symbols : 0;
    if (share > cfg.staleShareMax) {
      return {
        mode: 'CRITICAL',
        reason: `stale: ${market.staleSymbols} of ${market.symbols} symbols (${pct(share)} > ${pct(cfg.staleShareMax)}) without a bar for > ${secs(cfg.staleAfterMs)} -> CRITICAL`,
      };
    }
  }
  if (s.supervisor === 'UNHEALTHY') return supervisorRule(s, 'CRITICAL');
  const m = s.mode;
  const critical =
    drawdownRule('daily', s.drawdownDay, cfg.dailyDrawdownCritical, 'CRITICAL', m, cfg.drawdownMargin) ??
    drawdownRule('weekly', s.drawdownWeek, cfg.weeklyDrawdownCritical, 'CRITICAL', m, cfg.drawdownMargin);
  if (critical) return critical;
  if (s.supervisor === 'DRIFT') return supervisorRule(s, 'SAFE');
  const safe =
    drawdownRule('daily', s.drawdownDay, cfg.dailyDrawdownSafe, 'SAFE', m, cfg.drawdownMargin) ??
    drawdownRule('weekly', s.drawdownWeek, cfg.weeklyDrawdownSafe, 'SAFE', m, cfg.drawdownMargin);
  if (safe) return safe;
  const r = market.volRatio;
  if (r >= cfg.highVolRatio) {
    return { mode: 'SAFE', reason: `high volatility: median realised vol ${r.toFixed(2)}x its EWMA >= ${cfg.highVolRatio}x -> SAFE` };
  }
  if (holds(m, 'SAFE') && r >= cfg.highVolRatio - cfg.volRatioMargin) {
    return {
      mode: 'SAFE',
      reason: `high volatility: median realised vol ${r.toFixed(2)}x its EWMA still >= ${(cfg.highVolRatio - cfg.volRatioMargin).toFixed(2)}x (band) -> SAFE`,
    };
  }
  if (market.medianAtrPct >= cfg.highAtrPct) {
    return { mode: 'SAFE', reason: `high volatility: median ATR ${pct(market.medianAtrPct)} >= ${pct(cfg.highAtrPct)} -> SAFE` };
  }
  const calm = r <= cfg.calmVolRatio;
  const atHigh = s.equity >= s.peakEquity * (1 - cfg.atHighTolerance);
  const wins = s.results.filter((w) => w).length;
  const rate = s.results.length > 0 ? wins / s.results.length : 0;
  const winning = cfg.aggressiveMinWinRate <= 0 || (s.results.length >= cfg.aggressiveMinTrades && rate >= cfg.aggressiveMinWinRate);
  if (calm && atHigh && winning) {
    const wr = cfg.aggressiveMinWinRate > 0 ? `, win rate ${pct(rate)} over ${s.results.length}` : '';
    return { mode: 'AGGRESSIVE', reason: `calm: vol ${r.toFixed(2)}x its EWMA <= ${cfg.calmVolRatio}x, equity at its high${wr} -> AGGRESSIVE` };
  }
  return { mode: 'NORMAL', reason: 'no alarm -> NORMAL' };
}

/**
 * One step of the CEO state machine: takes an input into the state, evaluates the rules and moves the mode. Moving to
 * a more cautious mode is immediate; relaxing to a less cautious one needs the rules to say so for `clearEvaluations`
 * consecutive bar times (distinct event times, so many symbols on one bar count once), and drawdown and volatility
 * thresholds have bands that keep a mode until the value is clearly back. Pure: the input state is not changed.
 */
export function stepCeo(state: CeoState, input: CeoInput, config: CeoConfig = CEO_DEFAULTS): CeoStep {
  const s = observe(state, input, config);
  const v = assess(s, input.now, config);
  const ts = eventTs(input);
  if (RANK[v.mode] >= RANK[s.mode]) {
    const next: CeoState = { ...s, mode: v.mode, reason: v.reason, entryReason: v.reason, clearCount: 0, lastCountTs: Math.max(s.lastCountTs, ts) };
    return { state: next, mode: v.mode, reason: v.reason, changed: v.mode !== state.mode };
  }
  const counts = ts > s.lastCountTs;
  const clearCount = s.clearCount + (counts ? 1 : 0);
  const lastCountTs = counts ? ts : s.lastCountTs;
  if (clearCount >= config.clearEvaluations) {
    const reason = `${v.reason} (clear for ${clearCount} bars)`;
    const next: CeoState = { ...s, mode: v.mode, reason, entryReason: reason, clearCount: 0, lastCountTs };
    return { state: next, mode: v.mode, reason, changed: true };
  }
  const reason = `${s.entryReason}; holding until ${v.mode} is clear for ${config.clearEvaluations} bars (${clearCount} so far)`;
  return { state: { ...s, reason, clearCount, lastCountTs }, mode: s.mode, reason, changed: false };
}

/** The CEO brain as an operator: the mode in force, its reason and whether it changed, after each input. */
export function ceoBrain(config: Partial<CeoConfig> = {}): OperatorFunction<CeoInput, CeoStep> {
  const cfg: CeoConfig = { ...CEO_DEFAULTS, ...config };
  const seed: CeoStep = { state: initialCeoState(), mode: 'NORMAL', reason: 'start -> NORMAL', changed: false };
  return (source) =>
    source.pipe(
      scan((prev: CeoStep, input: CeoInput) => stepCeo(prev.state, input, cfg), seed),
    );
}
