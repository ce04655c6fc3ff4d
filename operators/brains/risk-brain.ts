import type { OperatorFunction } from 'rxjs';
import { map } from 'rxjs/operators';
import type { RiskMode } from '../../schemas/brain-decision.ts';

/** Settings of the risk brain. */
export interface RiskBrainConfig {
  /** Size multiplier of each mode. */
  readonly modeScale: Readonly<Record<RiskMode, number>>;
  /** ATR/close at or below which volatility does not shrink the size; above it the size scales by target / atrPct. */
  readonly targetAtrPct: number;
  /** Veto when ATR/close is at least this: a bar range that large is a broken feed or a crash, not a trade. */
  readonly vetoAtrPct: number;
  /** Confidence at which the confidence factor is 1; the factor is confidence / this. */
  readonly confidenceRef: number;
  /** Upper bound of the confidence factor. */
  readonly maxConfidenceFactor: number;
  /** Veto when the final scale is below this (the trade would be too small to matter). */
  readonly minScale: number;
}

/** Defaults of the risk brain (targetAtrPct 0.3%: about the 90th percentile of 1m BTC bars, the median of DOGE). */
export const RISK_BRAIN_DEFAULTS: RiskBrainConfig = Object.freeze({
  modeScale: Object.freeze({ SAFE: 0.5, NORMAL: 1, AGGRESSIVE: 1.5, CRITICAL: 0 }),
  targetAtrPct: 0.003,
  vetoAtrPct: 0.05,
  confidenceRef: 0.75,
  maxConfidenceFactor: 1.25,
  minScale: 0.05,
});

/** What the risk brain looks at. */
export interface RiskBrainInput {
  readonly mode: RiskMode;
  readonly atrPct: number;
  readonly confidence: number;
}

/** The risk brain's verdict: a size scale 0..2 and whether it vetoes the trade. */
export interface RiskBrainView {
  readonly scale: number;
  readonly veto: boolean;
  readonly detail: string;
}

const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));

/**
 * scale = clamp(modeScale[mode] * volFactor * confFactor, 0, 2), where volFactor = min(1, targetAtrPct / atrPct) and
 * confFactor = min(maxConfidenceFactor, confidence / confidenceRef). Vetoes a non-finite or non-positive ATR, an ATR at
 * or above vetoAtrPct, and a scale below minScale (which includes CRITICAL's 0).
 */
export function assessRisk(input: RiskBrainInput, config: RiskBrainConfig = RISK_BRAIN_DEFAULTS): RiskBrainView {
  const { mode, atrPct, confidence } = input;
  if (!Number.isFinite(atrPct) || atrPct <= 0) return { scale: 0, veto: true, detail: `atrPct ${atrPct} is not a positive number` };
  if (atrPct >= config.vetoAtrPct) {
    return { scale: 0, veto: true, detail: `atrPct ${(atrPct * 100).toFixed(2)}% >= ${(config.vetoAtrPct * 100).toFixed(2)}%: absurd volatility` };
  }
  const modeFactor = config.modeScale[mode];
  const volFactor = Math.min(1, config.targetAtrPct / atrPct);
  const confFactor = Number.isFinite(confidence) ? clamp(confidence / config.confidenceRef, 0, config.maxConfidenceFactor) : 0;
  const scale = clamp(modeFactor * volFactor * confFactor, 0, 2);
  const detail = `mode ${mode} x${modeFactor} * vol x${volFactor.toFixed(3)} * confidence x${confFactor.toFixed(3)} = ${scale.toFixed(3)}`;
  if (scale < config.minScale) return { scale, veto: true, detail: `${detail} < ${config.minScale}` };
  return { scale, veto: false, detail };
}

/** The risk brain as an operator: one verdict per input. */
export function riskBrain(config: Partial<RiskBrainConfig> = {}): OperatorFunction<RiskBrainInput, RiskBrainView> {
  const cfg: RiskBrainConfig = { ...RISK_BRAIN_DEFAULTS, ...config };
  return (source) => source.pipe(map((input) => assessRisk(input, cfg)));
}
