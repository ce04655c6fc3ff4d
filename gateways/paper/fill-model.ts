import type { Side } from '../../schemas/trade.ts';
import type { MarketPrint } from './market-print.ts';

/** The costs and limits of the paper fill model. */
export interface FillModelConfig {
  /** Fixed slippage in basis points of the price, always against the order. */
  readonly slippageBps: number;
  /** Extra slippage as a fraction of the print's relative range (high - low) / open; 0 turns it off. */
  readonly volatilitySlippage: number;
  /** Taker fee in basis points of the fill's notional. */
  readonly feeBps: number;
  /** Largest share of a print's traded volume the broker may take, over all its orders on that instrument. */
  readonly participation: number;
}

/** How an exit trigger relates to the price: a stop fires when the price moves against the position, a target when it moves for it. */
export type TriggerStyle = 'stop' | 'target';

/** Slippage of a fill against this print, as a fraction of the price (>= 0). */
export function slippageFraction(cfg: FillModelConfig, p: MarketPrint): number {
  const range = p.open > 0 ? (p.high - p.low) / p.open : 0;
  return cfg.slippageBps / 10_000 + cfg.volatilitySlippage * range;
}

/** The price after slippage: a buy pays more, a sell receives less. */
export function slipped(base: number, side: Side, slip: number): number {
  return side === 'BUY' ? base * (1 + slip) : base * (1 - slip);
}

/** The fee of a fill, quote currency. */
export function feeOf(cfg: FillModelConfig, price: number, qty: number): number {
  return (price * qty * cfg.feeBps) / 10_000;
}

/** How much base volume the broker may take from one print. */
export function volumeBudget(cfg: FillModelConfig, p: MarketPrint): number {
  return Math.max(0, cfg.participation * p.volume);
}

/**
 * The pre-slippage price at which a triggered exit order executes in the print that triggered it: the trigger price, or
 * the open when the print opened already past the trigger (a gap), never outside the print's range.
 * `side` is the exit order's side (SELL closes a long).
 */
export function triggerBase(p: MarketPrint, trigger: number, side: Side, style: TriggerStyle): number {
  // A sell stop and a buy target fire on a falling price; a buy stop and a sell target on a rising one.
  const firesBelow = (side === 'SELL') === (style === 'stop');
  const gapped = firesBelow ? p.open <= trigger : p.open >= trigger;
  const base = gapped ? p.open : trigger;
  return Math.min(p.high, Math.max(p.low, base));
}
