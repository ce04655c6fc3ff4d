/** What trading costs at the venue, in basis points of the notional. */
export interface TradingCosts {
  /** Taker fee per fill. */
  readonly feeBps: number;
  /** Fixed slippage per fill, against the order. */
  readonly slippageBps: number;
}

/** Default costs, 4 bps taker fee and 2 bps slippage: the paper broker's defaults are these numbers. */
export const TRADING_COST_DEFAULTS: TradingCosts = Object.freeze({ feeBps: 4, slippageBps: 2 });

/**
 * Offset beyond the average entry, in bps, of a stop that gives back nothing after costs: the entry fee plus the exit's
 * fee and slippage (the entry's slippage is already inside the average entry). For a long, exit * (1 - s) * (1 - f) =
 * entry * (1 + f); the short's offset is slightly smaller, so this one covers both sides.
 */
export function breakEvenOffsetBps(costs: TradingCosts): number {
  const f = costs.feeBps / 10_000;
  const s = costs.slippageBps / 10_000;
  return ((1 + f) / ((1 - f) * (1 - s)) - 1) * 10_000;
}
