import { TRADING_COST_DEFAULTS } from '../../operators/exits/trading-costs.ts';
import { withDefaults } from '../../operators/risk/with-defaults.ts';
import type { FillModelConfig } from './fill-model.ts';

/** Settings of the paper broker (the `broker` section of the config plus a few fixed names). */
export interface BrokerConfig extends FillModelConfig {
  /** Account name: the key of pos.equity.v1. */
  readonly account: string;
  /** Venue name written on order events and fills. */
  readonly venue: string;
  /** Equity of the account before any trade, quote currency. */
  readonly initialEquity: number;
  /** Bars after submission within which an entry must fill; the remainder is then cancelled. */
  readonly maxBarsToFill: number;
}

/**
 * Defaults: 10,000 USDT, the default trading costs (4 bps taker fee, 2 bps slippage, which the exit rules' break-even
 * offset is derived from), 10% of each bar's volume, 3 bars to fill.
 */
export const DEFAULT_BROKER_CONFIG: BrokerConfig = Object.freeze({
  account: 'paper',
  venue: 'paper',
  initialEquity: 10_000,
  feeBps: TRADING_COST_DEFAULTS.feeBps,
  slippageBps: TRADING_COST_DEFAULTS.slippageBps,
  volatilitySlippage: 0,
  participation: 0.1,
  maxBarsToFill: 3,
});

/** Raised when the broker's settings cannot work (negative fee, participation outside 0..1, ...). */
export class BrokerConfigError extends Error {
  override readonly name = 'BrokerConfigError';
  readonly retriable = false;
  constructor(readonly problems: readonly string[]) {
    super(`invalid paper broker settings: ${problems.join('; ')}`);
  }
}

/** Defaults overlaid with the given settings (a key given as undefined keeps its default), checked. */
export function brokerConfig(partial: Partial<BrokerConfig> = {}): BrokerConfig {
  const c = withDefaults(DEFAULT_BROKER_CONFIG, partial);
  const problems: string[] = [];
  if (!(c.initialEquity > 0)) problems.push('initialEquity must be > 0');
  if (!(c.feeBps >= 0)) problems.push('feeBps must be >= 0');
  if (!(c.slippageBps >= 0)) problems.push('slippageBps must be >= 0');
  if (!(c.volatilitySlippage >= 0)) problems.push('volatilitySlippage must be >= 0');
  if (!(c.participation > 0 && c.participation <= 1)) problems.push('participation must be in (0, 1]');
  if (!(Number.isInteger(c.maxBarsToFill) && c.maxBarsToFill >= 1)) problems.push('maxBarsToFill must be an integer >= 1');
  if (problems.length > 0) throw new BrokerConfigError(problems);
  return c;
}
