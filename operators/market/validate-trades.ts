import { defer, map, type OperatorFunction, type SchedulerLike } from 'rxjs';
import type { SourceRecord, Validated } from '../../schemas/source-record.ts';
import type { Trade } from '../../schemas/trade.ts';
import {
  advanceReference,
  DEFAULT_MAX_JUMP,
  edgeDeadLetter,
  emptyReference,
  excessJump,
  instrumentIndex,
  jumpLimits,
  jumpMessage,
  numericId,
  PerInstrument,
  SeenWindow,
  type PriceReference,
} from './edge-validation.ts';

/** Why a trade is refused at the edge. */
export const TRADE_REJECT_REASONS = [
  'MALFORMED',
  'NON_FINITE_PRICE',
  'NON_POSITIVE_PRICE',
  'NON_FINITE_SIZE',
  'NON_POSITIVE_SIZE',
  'UNKNOWN_SYMBOL',
  'LATE',
  'DUPLICATE_TRADE_ID',
  'PRICE_JUMP',
] as const;
/** A trade refusal reason. */
export type TradeRejectReason = (typeof TRADE_REJECT_REASONS)[number];

/** Options of validateTrades. */
export interface ValidateTradesOptions {
  /** Known instruments as `exchange:symbol`; undefined accepts every instrument. */
  readonly symbols?: ReadonlySet<string>;
  /** How far behind the newest trade of its instrument a trade may be and still pass. */
  readonly allowedLatenessMs: number;
  /** The stage named in dead letters. */
  readonly stage: string;
  /** Stamps tsInit of dead letters (and their tsEvent when the record has none). */
  readonly scheduler: SchedulerLike;
  /**
   * Numeric trade ids only increase per instrument (true for Binance, default): an id at or below one already
   * forgotten is a duplicate. Set false for sources whose ids carry no order.
   */
  readonly numericIdsIncrease?: boolean;
  /** Most trade ids remembered per instrument for duplicate detection (default 100,000). */
  readonly maxRememberedIds?: number;
  /**
   * Largest relative move of a price from the last valid price of its instrument, |p / ref - 1| (default 0.2 = 20 %);
   * a trade beyond it is refused as PRICE_JUMP and does not become the reference. Infinity turns the check off.
   */
  readonly maxJump?: number;
  /**
   * Event time over which maxJump holds (default 60,000 ms); after a longer silence the limit widens with the square
   * root of the elapsed time, so a genuine move across a gap passes (see allowedJump in edge-validation.ts).
   */
  readonly jumpWindowMs?: number;
}

/** Default jumpWindowMs of validateTrades: one minute. */
export const DEFAULT_TRADE_JUMP_WINDOW_MS = 60_000;

interface InstrumentState {
  maxTs: number;
  readonly seen: SeenWindow<number | string>;
  readonly ref: PriceReference;
}

const TRADE_REASONS: ReadonlySet<string> = new Set(TRADE_REJECT_REASONS);

/**
 * Validates raw trades at the edge: a trade that is well formed, finite and positive, of a known instrument, not later
 * than the lateness horizon, not seen before and within maxJump of the last valid price passes untouched; any other
 * record becomes a dead letter with its reason. Nothing is thrown and nothing valid is dropped. State is per
 * subscription and per instrument: the newest tsEvent, the trade ids inside the lateness horizon and the last valid
 * price (only a trade that passes moves it).
 */
export function validateTrades(opts: ValidateTradesOptions): OperatorFunction<SourceRecord<Trade>, Validated<Trade>> {
  const known = instrumentIndex(opts.symbols);
  const lateness = opts.allowedLatenessMs;
  const increasing = opts.numericIdsIncrease ?? true;
  const capacity = opts.maxRememberedIds ?? 100_000;
  const limits = jumpLimits(opts.maxJump ?? DEFAULT_MAX_JUMP, opts.jumpWindowMs ?? DEFAULT_TRADE_JUMP_WINDOW_MS, 'validateTrades');
  return (source) =>
    defer(() => {
      const states = new PerInstrument<InstrumentState>(() => ({ maxTs: -Infinity, seen: new SeenWindow(capacity), ref: emptyReference() }));

      const refuse = (rec: SourceRecord<Trade>, t: Trade | null, reason: TradeRejectReason | string, message: string): Validated<Trade> => ({
        ok: false,
        deadLetter: edgeDeadLetter(rec, {
          key: t && typeof t.exchange === 'string' && typeof t.symbol === 'string' ? `${t.exchange}:${t.symbol}` : null,
          tsEvent: t?.tsEvent,
          reason,
          message,
          stage: opts.stage,
          scheduler: opts.scheduler,
        }),
      });

      const check = (rec: SourceRecord<Trade>): Validated<Trade> => {
        const t = rec.value;
        if (t === null || t === undefined) {
          const r = rec.error?.reason;
          return refuse(rec, null, r !== undefined && TRADE_REASONS.has(r) ? r : 'MALFORMED', rec.error?.message ?? 'record has no value');
        }
        const { exchange, symbol, price, size, tsEvent } = t;
        if (typeof exchange !== 'string' || exchange === '' || typeof symbol !== 'string' || symbol === '') {
          return refuse(rec, t, 'MALFORMED', 'exchange and symbol must be non-empty strings');
        }
        if (typeof t.tradeId !== 'string' || t.tradeId === '') return refuse(rec, t, 'MALFORMED', 'tradeId must be a non-empty string');
        if (!Number.isSafeInteger(tsEvent)) return refuse(rec, t, 'MALFORMED', `tsEvent ${String(tsEvent)} is not an integer ms time`);
        if (t.side !== 'BUY' && t.side !== 'SELL') return refuse(rec, t, 'MALFORMED', `side ${String(t.side)} is not BUY or SELL`);
        if (known && known.get(exchange)?.has(symbol) !== true) {
          return refuse(rec, t, 'UNKNOWN_SYMBOL', `${exchange}:${symbol} is not a known instrument`);
        }
        if (typeof price !== 'number' || !Number.isFinite(price)) return refuse(rec, t, 'NON_FINITE_PRICE', `price ${String(price)} is not finite`);
        if (price <= 0) return refuse(rec, t, 'NON_POSITIVE_PRICE', `price ${price} is not positive`);
        if (typeof size !== 'number' || !Number.isFinite(size)) return refuse(rec, t, 'NON_FINITE_SIZE', `size ${String(size)} is not finite`);
        if (size <= 0) return refuse(rec, t, 'NON_POSITIVE_SIZE', `size ${size} is not positive`);

        const st = states.get(exchange, symbol);
        const id = numericId(t.tradeId);
        if (st.seen.has(id)) return refuse(rec, t, 'DUPLICATE_TRADE_ID', `trade id ${t.tradeId} already seen for ${exchange}:${symbol}`);
        if (tsEvent < st.maxTs - lateness) {
          return refuse(rec, t, 'LATE', `tsEvent ${tsEvent} is more than ${lateness} ms behind ${st.maxTs} for ${exchange}:${symbol}`);
        }
        if (increasing && typeof id === 'number' && id <= st.seen.forgottenHigh) {
          return refuse(rec, t, 'DUPLICATE_TRADE_ID', `trade id ${t.tradeId} is at or below ${st.seen.forgottenHigh}, already seen or too old, for ${exchange}:${symbol}`);
        }
        const move = excessJump(st.ref, tsEvent, price, limits);
        if (move > 0) return refuse(rec, t, 'PRICE_JUMP', jumpMessage('price', price, move, st.ref, tsEvent, limits, `${exchange}:${symbol}`));
        advanceReference(st.ref, tsEvent, price);
        if (tsEvent > st.maxTs) {
          st.maxTs = tsEvent;
          st.seen.evictBefore(tsEvent - lateness);
        }
        st.seen.add(id, tsEvent);
        return { ok: true, value: t };
      };

      return source.pipe(map(check));
    });
}
