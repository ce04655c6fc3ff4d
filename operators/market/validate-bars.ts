import { defer, map, type OperatorFunction, type SchedulerLike } from 'rxjs';
import type { Bar } from '../../schemas/bar.ts';
import type { SourceRecord, Validated } from '../../schemas/source-record.ts';
import {
  advanceReference,
  DEFAULT_MAX_JUMP,
  edgeDeadLetter,
  emptyReference,
  excessJump,
  instrumentIndex,
  jumpLimits,
  jumpMessage,
  PerInstrument,
  SeenWindow,
  type JumpLimits,
  type PriceReference,
} from './edge-validation.ts';

/** Why a bar is refused at the edge. */
export const BAR_REJECT_REASONS = [
  'MALFORMED',
  'UNKNOWN_SYMBOL',
  'NON_FINITE_PRICE',
  'NON_POSITIVE_PRICE',
  'HIGH_BELOW_BODY',
  'LOW_ABOVE_BODY',
  'NON_FINITE_VOLUME',
  'NEGATIVE_VOLUME',
  'MISALIGNED_TIME',
  'LATE',
  'DUPLICATE_BAR',
  'PRICE_JUMP',
] as const;
/** A bar refusal reason. */
export type BarRejectReason = (typeof BAR_REJECT_REASONS)[number];

/** Options of validateBars. */
export interface ValidateBarsOptions {
  /** Known instruments as `exchange:symbol`; undefined accepts every instrument. */
  readonly symbols?: ReadonlySet<string>;
  /** How far behind the newest bar of its instrument (by tsEvent) a bar may close and still pass. */
  readonly allowedLatenessMs: number;
  /** The stage named in dead letters. */
  readonly stage: string;
  /** Stamps tsInit of dead letters (and their tsEvent when the record has none). */
  readonly scheduler: SchedulerLike;
  /**
   * Largest relative move of open, high, low or close from the previous valid close of the instrument, |p / ref - 1|
   * (default 0.2 = 20 %); a bar beyond it is refused as PRICE_JUMP and its close does not become the reference.
   * Infinity turns the check off.
   */
  readonly maxJump?: number;
  /**
   * Event time over which maxJump holds (default: the bar's own interval, so between consecutive bars); across a gap
   * the limit widens with the square root of the elapsed time (see allowedJump in edge-validation.ts).
   */
  readonly jumpWindowMs?: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Interval names (Binance/ccxt) and their length in ms. */
export const INTERVAL_MS: Readonly<Record<string, number>> = {
  '1s': 1000, '1m': MINUTE, '3m': 3 * MINUTE, '5m': 5 * MINUTE, '15m': 15 * MINUTE, '30m': 30 * MINUTE,
  '1h': HOUR, '2h': 2 * HOUR, '4h': 4 * HOUR, '6h': 6 * HOUR, '8h': 8 * HOUR, '12h': 12 * HOUR, '1d': DAY,
  '3d': 3 * DAY, '1w': 7 * DAY,
};

const BAR_REASONS: ReadonlySet<string> = new Set(BAR_REJECT_REASONS);

interface InstrumentState {
  maxTs: number;
  readonly seen: SeenWindow<number>;
  /** The previous valid close. */
  readonly ref: PriceReference;
}

/**
 * Validates raw bars at the edge: a bar that is well formed, with finite positive prices, high and low around the
 * open-close body, non-negative volumes, an open time on its interval boundary and tsEvent = openTime + interval, of a
 * known instrument, within the lateness horizon, not seen before and with open, high, low and close within maxJump of
 * the previous valid close passes untouched; anything else becomes a dead letter with its reason. State is per
 * subscription and per instrument; only a bar that passes moves the reference close.
 */
export function validateBars(opts: ValidateBarsOptions): OperatorFunction<SourceRecord<Bar>, Validated<Bar>> {
  createBarValidator(opts); // checks the options at assembly, not at the first record
  return (source) => defer(() => source.pipe(map(createBarValidator(opts))));
}

/**
 * The check behind validateBars as a plain function with its own per-instrument state: one call per record, in order.
 * The operator wraps it; loops that do without RxJS (the benchmark's plain chain) call it directly.
 */
export function createBarValidator(opts: ValidateBarsOptions): (rec: SourceRecord<Bar>) => Validated<Bar> {
  const known = instrumentIndex(opts.symbols);
  const lateness = opts.allowedLatenessMs;
  const maxJump = opts.maxJump ?? DEFAULT_MAX_JUMP;
  // The options are checked here, once. Without a window each bar's own interval is its window (limits made once per interval).
  const given = jumpLimits(maxJump, opts.jumpWindowMs ?? MINUTE, 'validateBars');
  const perInterval = new Map<number, JumpLimits>();
  const limitsOf = (step: number): JumpLimits => {
    if (opts.jumpWindowMs !== undefined) return given;
    let l = perInterval.get(step);
    if (!l) perInterval.set(step, (l = jumpLimits(maxJump, step, 'validateBars')));
    return l;
  };
  const states = new PerInstrument<InstrumentState>(() => ({ maxTs: -Infinity, seen: new SeenWindow<number>(100_000), ref: emptyReference() }));

  const refuse = (rec: SourceRecord<Bar>, b: Bar | null, reason: string, message: string): Validated<Bar> => ({
    ok: false,
    deadLetter: edgeDeadLetter(rec, {
      key: b && typeof b.exchange === 'string' && typeof b.symbol === 'string' ? `${b.exchange}:${b.symbol}` : null,
      tsEvent: b?.tsEvent,
      reason,
      message,
      stage: opts.stage,
      scheduler: opts.scheduler,
    }),
  });

  const check = (rec: SourceRecord<Bar>): Validated<Bar> => {
    const b = rec.value;
    if (b === null || b === undefined) {
      const r = rec.error?.reason;
      return refuse(rec, null, r !== undefined && BAR_REASONS.has(r) ? r : 'MALFORMED', rec.error?.message ?? 'record has no value');
    }
    const { exchange, symbol, open, high, low, close, openTime, tsEvent } = b;
    if (typeof exchange !== 'string' || exchange === '' || typeof symbol !== 'string' || symbol === '') {
      return refuse(rec, b, 'MALFORMED', 'exchange and symbol must be non-empty strings');
    }
    const step = INTERVAL_MS[b.interval];
    if (step === undefined) return refuse(rec, b, 'MALFORMED', `interval ${String(b.interval)} is not known`);
    if (!Number.isSafeInteger(openTime) || !Number.isSafeInteger(tsEvent)) {
      return refuse(rec, b, 'MALFORMED', `openTime ${String(openTime)} / tsEvent ${String(tsEvent)} are not integer ms times`);
    }
    if (known && known.get(exchange)?.has(symbol) !== true) {
      return refuse(rec, b, 'UNKNOWN_SYMBOL', `${exchange}:${symbol} is not a known instrument`);
    }
    for (const [name, v] of [['open', open], ['high', high], ['low', low], ['close', close]] as const) {
      if (typeof v !== 'number' || !Number.isFinite(v)) return refuse(rec, b, 'NON_FINITE_PRICE', `${name} ${String(v)} is not finite`);
      if (v <= 0) return refuse(rec, b, 'NON_POSITIVE_PRICE', `${name} ${v} is not positive`);
    }
    if (high < Math.max(open, close)) return refuse(rec, b, 'HIGH_BELOW_BODY', `high ${high} is below max(open ${open}, close ${close})`);
    if (low > Math.min(open, close)) return refuse(rec, b, 'LOW_ABOVE_BODY', `low ${low} is above min(open ${open}, close ${close})`);
    for (const [name, v] of [['volume', b.volume], ['quoteVolume', b.quoteVolume], ['buyVolume', b.buyVolume], ['trades', b.trades]] as const) {
      if (typeof v !== 'number' || !Number.isFinite(v)) return refuse(rec, b, 'NON_FINITE_VOLUME', `${name} ${String(v)} is not finite`);
      if (v < 0) return refuse(rec, b, 'NEGATIVE_VOLUME', `${name} ${v} is negative`);
    }
    // Weeks open on Monday (epoch + 4 days) and 3-day bars follow the exchange's own anchor, so only check the rest.
    if ((step <= DAY && openTime % step !== 0) || tsEvent !== openTime + step) {
      return refuse(rec, b, 'MISALIGNED_TIME', `openTime ${openTime} / tsEvent ${tsEvent} do not fit a ${b.interval} bar`);
    }

    const st = states.get(exchange, symbol);
    if (st.seen.has(openTime)) return refuse(rec, b, 'DUPLICATE_BAR', `a ${b.interval} bar opening at ${openTime} was already seen for ${exchange}:${symbol}`);
    if (tsEvent < st.maxTs - lateness) {
      return refuse(rec, b, 'LATE', `tsEvent ${tsEvent} is more than ${lateness} ms behind ${st.maxTs} for ${exchange}:${symbol}`);
    }
    const limits = limitsOf(step);
    for (const [name, v] of [['open', open], ['high', high], ['low', low], ['close', close]] as const) {
      const move = excessJump(st.ref, tsEvent, v, limits);
      if (move > 0) return refuse(rec, b, 'PRICE_JUMP', jumpMessage(name, v, move, st.ref, tsEvent, limits, `${exchange}:${symbol}`));
    }
    advanceReference(st.ref, tsEvent, close);
    if (tsEvent > st.maxTs) {
      st.maxTs = tsEvent;
      st.seen.evictBefore(tsEvent - lateness);
    }
    st.seen.add(openTime, tsEvent);
    return { ok: true, value: b };
  };

  return check;
}
