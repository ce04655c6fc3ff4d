import type { OperatorFunction } from 'rxjs';
import { map } from 'rxjs/operators';
import { withDefaults } from './with-defaults.ts';

/** Settings of position sizing. Fractions of equity unless said otherwise. */
export interface SizingConfig {
  /** Fraction of equity lost if the stop is hit, before the decision's riskScale (0.01 = 1%). */
  readonly riskPerTrade: number;
  /** Stop distance in ATRs: stop = entry -/+ k * atrPct * close. */
  readonly stopAtrMultiple: number;
  /** Highest leverage of an order (its notional / its margin), 1..MAX_LEVERAGE. */
  readonly maxLeverage: number;
  /** Cap on total open notional (positions and pending entries) as a multiple of equity. */
  readonly maxExposure: number;
  /** Cap on one instrument's notional as a multiple of equity. */
  readonly maxInstrumentExposure: number;
  /** Smallest order notional, quote currency: smaller is not worth sending (and venues reject it). */
  readonly minNotional: number;
  /** Take-profit ladder in R multiples (R = stop distance), nearest first. */
  readonly takeProfitR: readonly number[];
}

/** The highest leverage any configuration may allow. */
export const MAX_LEVERAGE = 30;

/** Relative rounding dust by which a margin may exceed the free margin and still fit (the paper broker allows the same). */
export const MARGIN_DUST = 1e-9;

/** Defaults of position sizing. */
export const SIZING_DEFAULTS: SizingConfig = Object.freeze({
  riskPerTrade: 0.01,
  stopAtrMultiple: 1.5,
  maxLeverage: 10,
  maxExposure: 3,
  maxInstrumentExposure: 1,
  minNotional: 10,
  takeProfitR: Object.freeze([1, 2, 3]),
});

/** What sizing needs about one intent. */
export interface SizingInput {
  readonly side: 'LONG' | 'SHORT';
  /** Entry reference price: the close of the decision bar. */
  readonly close: number;
  readonly atrPct: number;
  readonly equity: number;
  /** Size multiplier from the brains, 0..2. */
  readonly riskScale: number;
  /** Notional open now across every instrument (positions and pending entries). */
  readonly openExposure: number;
  /** Notional open now on this instrument. */
  readonly instrumentExposure: number;
  /** Margin pledged already (open positions and pending entries, as the broker counts it); 0 when absent. */
  readonly usedMargin?: number;
}

/** A sized order or the reason it cannot be sized. */
export type SizingResult =
  | {
      readonly ok: true;
      readonly qty: number;
      readonly notional: number;
      readonly leverage: number;
      readonly stopPrice: number;
      readonly takeProfits: readonly number[];
      /** Fraction of equity actually at risk at the stop (below the target when a cap shrank the order). */
      readonly riskFraction: number;
      readonly detail: string;
    }
  | { readonly ok: false; readonly reason: 'INVALID_STOP' | 'SIZE_TOO_SMALL' | 'EXPOSURE_CAP'; readonly detail: string };

const fmt = (x: number): string => (Math.abs(x) >= 100 ? x.toFixed(2) : x.toPrecision(6));

/**
 * Sizes an intent by risk: stopDistance = stopAtrMultiple * atrPct * close; target risk = riskPerTrade * riskScale of
 * equity; qty = equity * risk / stopDistance. With free margin = equity - usedMargin, the notional is then capped by
 * maxLeverage * free margin, the instrument's room (maxInstrumentExposure * equity - its notional) and the account's
 * room (maxExposure * equity - open notional). Leverage = ceil(notional / free margin) within 1..maxLeverage: the
 * smallest whole leverage whose margin the broker can still reserve. Take-profits sit at entry +/- r * stopDistance for
 * each r of the ladder. Denies INVALID_STOP for a stop that is not a positive distance or puts the stop or a take-profit
 * at or below zero, SIZE_TOO_SMALL when the risk-based notional is below minNotional (or there is no equity),
 * EXPOSURE_CAP when the caps leave less than minNotional ("insufficient margin ..." when even maxLeverage does not fit).
 */
export function sizePosition(input: SizingInput, config: SizingConfig = SIZING_DEFAULTS): SizingResult {
  const { side, close, atrPct, equity } = input;
  if (!Number.isFinite(equity) || equity <= 0) return { ok: false, reason: 'SIZE_TOO_SMALL', detail: `no equity to size from (${equity})` };
  const stopDistance = config.stopAtrMultiple * atrPct * close;
  if (!Number.isFinite(close) || close <= 0 || !Number.isFinite(stopDistance) || stopDistance <= 0) {
    return { ok: false, reason: 'INVALID_STOP', detail: `stop distance ${config.stopAtrMultiple} * atrPct ${atrPct} * close ${close} is not positive` };
  }
  const dir = side === 'LONG' ? 1 : -1;
  const stopPrice = close - dir * stopDistance;
  if (stopPrice <= 0) return { ok: false, reason: 'INVALID_STOP', detail: `stop ${fmt(stopPrice)} at or below zero (entry ${fmt(close)})` };
  const takeProfits = config.takeProfitR.map((r) => close + dir * r * stopDistance);
  if (takeProfits.some((tp) => tp <= 0)) {
    return { ok: false, reason: 'INVALID_STOP', detail: `take-profit ladder reaches ${fmt(Math.min(...takeProfits))} <= 0 (stop distance ${fmt(stopDistance)})` };
  }
  const scale = Math.min(2, Math.max(0, Number.isFinite(input.riskScale) ? input.riskScale : 0));
  const targetRisk = config.riskPerTrade * scale;
  const riskNotional = ((equity * targetRisk) / stopDistance) * close;
  if (!(riskNotional >= config.minNotional)) {
    return { ok: false, reason: 'SIZE_TOO_SMALL', detail: `risk-based notional ${fmt(riskNotional)} < min ${config.minNotional} (risk ${(targetRisk * 100).toFixed(3)}% of ${fmt(equity)})` };
  }
  const used = input.usedMargin !== undefined && Number.isFinite(input.usedMargin) ? Math.max(0, input.usedMargin) : 0;
  const free = equity - used;
  const marginNote = `free margin ${fmt(free)} (equity ${fmt(equity)}, used ${fmt(used)})`;
  if (!(free > 0)) return { ok: false, reason: 'EXPOSURE_CAP', detail: `insufficient margin: no ${marginNote}` };
  const caps: [string, number][] = [
    ['leverage', config.maxLeverage * free],
    ['instrument exposure', config.maxInstrumentExposure * equity - input.instrumentExposure],
    ['total exposure', config.maxExposure * equity - input.openExposure],
  ];
  let notional = riskNotional;
  let cappedBy = '';
  for (const [name, room] of caps) {
    if (room < notional) {
      notional = room;
      cappedBy = name;
    }
  }
  if (notional < config.minNotional && cappedBy === 'leverage') {
    return { ok: false, reason: 'EXPOSURE_CAP', detail: `insufficient margin: ${config.maxLeverage}x on ${marginNote} carries ${fmt(notional)} < min ${config.minNotional}` };
  }
  if (notional < config.minNotional) {
    return {
      ok: false,
      reason: 'EXPOSURE_CAP',
      detail: `${cappedBy} cap leaves ${fmt(Math.max(0, notional))} < min ${config.minNotional} (open ${fmt(input.openExposure)}, instrument ${fmt(input.instrumentExposure)}, equity ${fmt(equity)})`,
    };
  }
  const qty = notional / close;
  // Subtract a hair so that a notional of exactly k * free margin, computed with rounding error, gives k and not k + 1;
  // then make sure the margin fits up to rounding dust.
  let leverage = Math.max(1, Math.ceil(notional / free - MARGIN_DUST));
  if (notional / leverage > free * (1 + MARGIN_DUST)) leverage += 1;
  leverage = Math.min(config.maxLeverage, leverage);
  const riskFraction = (qty * stopDistance) / equity;
  const capNote = cappedBy ? `, capped by ${cappedBy} from ${fmt(riskNotional)}` : '';
  const detail = `risk ${(riskFraction * 100).toFixed(3)}% of ${fmt(equity)}, stop ${config.stopAtrMultiple} ATR = ${fmt(stopDistance)}, notional ${fmt(notional)}${capNote}, ${leverage}x on ${marginNote}`;
  return { ok: true, qty, notional, leverage, stopPrice, takeProfits, riskFraction, detail };
}

/** Position sizing as an operator: one result per input. */
export function positionSizing(config: Partial<SizingConfig> = {}): OperatorFunction<SizingInput, SizingResult> {
  const cfg = withDefaults(SIZING_DEFAULTS, config);
  return (source) => source.pipe(map((input) => sizePosition(input, cfg)));
}
