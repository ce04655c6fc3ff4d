import type { Bar } from '../../schemas/bar.ts';
import { instrumentKey } from '../../schemas/common.ts';
import type { Trade } from '../../schemas/trade.ts';

/**
 * What the paper broker fills against: a span of trading with its price range and traded volume. A bar is a print
 * whose first price is the open; a trade is a degenerate print (open = high = low = close = price). Entry and carried
 * orders fill at `open`; triggered exits fill inside [low, high]; `volume` caps how much the broker may take.
 */
export interface MarketPrint {
  /** `bar` prints count towards an entry's fill window (maxBarsToFill); `trade` prints do not. */
  readonly kind: 'bar' | 'trade';
  /** Id of the source message (bar or trade), for derived ids. */
  readonly id: string;
  readonly exchange: string;
  readonly symbol: string;
  /** Bus key of the instrument, `exchange:symbol`. */
  readonly key: string;
  /** When the print is known: a bar's close time, a trade's time. Outputs it causes carry this tsEvent. */
  readonly tsEvent: number;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  /** Traded base volume in the print. */
  readonly volume: number;
}

/** The print of a closed bar. */
export function printOfBar(b: Bar): MarketPrint {
  return {
    kind: 'bar',
    id: b.id,
    exchange: b.exchange,
    symbol: b.symbol,
    key: instrumentKey(b),
    tsEvent: b.tsEvent,
    open: b.open,
    high: b.high,
    low: b.low,
    close: b.close,
    volume: b.volume,
  };
}

/** The print of one trade (tick). */
export function printOfTrade(t: Trade): MarketPrint {
  return {
    kind: 'trade',
    id: t.id,
    exchange: t.exchange,
    symbol: t.symbol,
    key: instrumentKey(t),
    tsEvent: t.tsEvent,
    open: t.price,
    high: t.price,
    low: t.price,
    close: t.price,
    volume: t.size,
  };
}
