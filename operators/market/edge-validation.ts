/**
 * Shared pieces of the edge validators (validate-trades, validate-bars): the dead letter of a refused record, the
 * known-instrument lookup, a bounded window of recently seen keys for duplicate detection and the sane-jump check.
 */
import type { SchedulerLike } from 'rxjs';
import type { DeadLetter } from '../../schemas/dead-letter.ts';
import { deriveId } from '../../schemas/ids.ts';
import type { SourceRecord } from '../../schemas/source-record.ts';

/** The errorClass of every dead letter written by the edge validators. */
export const VALIDATION_ERROR_CLASS = 'ValidationError';

/** Where a refused record goes: a dead letter carrying its raw bytes, source offset and reason. */
export function edgeDeadLetter(
  rec: SourceRecord<unknown>,
  args: { key: string | null; tsEvent: unknown; reason: string; message: string; stage: string; scheduler: SchedulerLike },
): DeadLetter {
  const now = args.scheduler.now();
  const raw = rec.raw;
  return {
    // Edge input has no topic offset that is unique across runs, so the id hashes where it came from and what it was.
    id: deriveId('dlq', rec.source, rec.offset, raw),
    tsEvent: typeof args.tsEvent === 'number' && Number.isSafeInteger(args.tsEvent) ? args.tsEvent : now,
    tsInit: now,
    sourceTopic: rec.source,
    partition: -1,
    offset: rec.offset,
    key: args.key,
    payload: Buffer.from(raw, 'utf8'),
    stage: args.stage,
    errorClass: VALIDATION_ERROR_CLASS,
    reason: args.reason,
    message: args.message,
  };
}

/** Known instruments as exchange -> symbols, so a lookup needs no `exchange:symbol` string per tick. */
export function instrumentIndex(keys: ReadonlySet<string> | undefined): ReadonlyMap<string, ReadonlySet<string>> | undefined {
  if (!keys) return undefined;
  const idx = new Map<string, Set<string>>();
  for (const k of keys) {
    // Exchange ids never contain ':'; unified symbols may (BTC/USDT:USDT), so split at the first one only.
    const i = k.indexOf(':');
    if (i <= 0) continue;
    const ex = k.slice(0, i);
    let set = idx.get(ex);
    if (!set) idx.set(ex, (set = new Set()));
    set.add(k.slice(i + 1));
  }
  return idx;
}

/** Per-instrument state in a two-level map with a one-entry cache, since ticks of one symbol come in runs. */
export class PerInstrument<S> {
  private readonly byExchange = new Map<string, Map<string, S>>();
  private lastExchange = '';
  private lastSymbol = '';
  private lastState: S | undefined;

  constructor(private readonly create: () => S) {}

  /** The state of an instrument, created on first use. */
  get(exchange: string, symbol: string): S {
    if (this.lastState !== undefined && symbol === this.lastSymbol && exchange === this.lastExchange) return this.lastState;
    let bySymbol = this.byExchange.get(exchange);
    if (!bySymbol) this.byExchange.set(exchange, (bySymbol = new Map()));
    let s = bySymbol.get(symbol);
    if (s === undefined) bySymbol.set(symbol, (s = this.create()));
    this.lastExchange = exchange;
    this.lastSymbol = symbol;
    this.lastState = s;
    return s;
  }
}

/**
 * Keys seen recently, each with the event time it came with: entries leave once their time falls behind a cutoff
 * (the lateness horizon) or when more than `capacity` are held. `forgottenHigh` is the largest numeric key that has
 * left, so a caller whose keys only increase can still refuse one it no longer holds.
 */
export class SeenWindow<K extends string | number> {
  private keys: K[] = [];
  private times: number[] = [];
  private head = 0;
  private readonly set = new Set<K>();
  /** The largest numeric key evicted so far (-Infinity before any). */
  forgottenHigh = -Infinity;

  constructor(private readonly capacity: number) {}

  /** Number of keys held. */
  get size(): number {
    return this.set.size;
  }

  /** True when the key is held. */
  has(key: K): boolean {
    return this.set.has(key);
  }

  /** Remembers a key with its event time. */
  add(key: K, ts: number): void {
    this.set.add(key);
    this.keys.push(key);
    this.times.push(ts);
    if (this.set.size > this.capacity) this.dropHead();
  }

  /** Forgets keys (in insertion order) whose time is before the cutoff. */
  evictBefore(cutoff: number): void {
    while (this.head < this.keys.length && this.times[this.head]! < cutoff) this.dropHead();
    // Compact now and then so the arrays do not grow without bound; amortised O(1) per key.
    if (this.head > 1024 && this.head * 2 > this.keys.length) {
      this.keys = this.keys.slice(this.head);
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
  }

  private dropHead(): void {
    const k = this.keys[this.head]!;
    this.head++;
    this.set.delete(k);
    if (typeof k === 'number' && k > this.forgottenHigh) this.forgottenHigh = k;
  }
}

/** Largest relative move from an instrument's last valid price, by default: 0.2 = 20 %. */
export const DEFAULT_MAX_JUMP = 0.2;

/** The sane-jump limits of an edge validator. */
export interface JumpLimits {
  /** Largest relative move |p / ref - 1| from the last valid price within `windowMs`; Infinity turns the check off. */
  readonly maxJump: number;
  /** Event time over which `maxJump` holds; past it the limit widens with the square root of the elapsed time. */
  readonly windowMs: number;
}

/** Checks jump options once, when an operator is made: maxJump a positive fraction (or Infinity), windowMs > 0. */
export function jumpLimits(maxJump: number, windowMs: number, what: string): JumpLimits {
  if (!(maxJump > 0)) throw new RangeError(`${what}: maxJump must be a positive fraction (0.2 = 20 %) or Infinity, got ${maxJump}`);
  if (!(windowMs > 0) || !Number.isFinite(windowMs)) throw new RangeError(`${what}: jumpWindowMs must be a positive number of ms, got ${windowMs}`);
  return { maxJump, windowMs };
}

/** The last valid price of an instrument and its event time: the reference of the jump check (NaN before any). */
export interface PriceReference {
  price: number;
  ts: number;
}

/** A reference that holds no price yet: the first valid price of an instrument is taken as it is. */
export function emptyReference(): PriceReference {
  return { price: Number.NaN, ts: -Infinity };
}

/**
 * The largest relative move allowed `elapsedMs` after the reference: `maxJump` within the window, then growing with
 * the square root of the elapsed time (how far a random walk spreads). A genuine move across a gap in the data (an
 * outage, a pause in trading, two files months apart) thus passes once enough time lies between, and a run of
 * refusals cannot lock an instrument out for good, since a refused record never moves the reference.
 */
export function allowedJump(limits: JumpLimits, elapsedMs: number): number {
  return elapsedMs <= limits.windowMs ? limits.maxJump : limits.maxJump * Math.sqrt(elapsedMs / limits.windowMs);
}

/** The relative move of a price from the reference when it is more than allowed at tsEvent, else 0 (also with no reference). */
export function excessJump(ref: PriceReference, tsEvent: number, price: number, limits: JumpLimits): number {
  const move = Math.abs(price / ref.price - 1);
  // NaN (no reference yet) and moves within maxJump pass here, without the square root.
  if (!(move > limits.maxJump)) return 0;
  return move > allowedJump(limits, tsEvent - ref.ts) ? move : 0;
}

/** The message of a PRICE_JUMP dead letter. */
export function jumpMessage(name: string, price: number, move: number, ref: PriceReference, tsEvent: number, limits: JumpLimits, key: string): string {
  const pct = (x: number): string => `${(x * 100).toFixed(2)} %`;
  return `${name} ${price} moves ${pct(move)} from ${ref.price}, the last valid price of ${key} (${tsEvent - ref.ts} ms before), more than the ${pct(allowedJump(limits, tsEvent - ref.ts))} allowed`;
}

/** Moves the reference to a price that passed, unless it is older than the reference (a late record inside the horizon). */
export function advanceReference(ref: PriceReference, tsEvent: number, price: number): void {
  if (tsEvent < ref.ts) return;
  ref.price = price;
  ref.ts = tsEvent;
}

/** A trade id as a number when it is a canonical non-negative integer below 2^53 (Binance ids are), else the string. */
export function numericId(id: string): number | string {
  const len = id.length;
  if (len === 0 || len > 15 || (len > 1 && id.charCodeAt(0) === 48)) return id;
  for (let i = 0; i < len; i++) {
    const c = id.charCodeAt(i);
    if (c < 48 || c > 57) return id;
  }
  return Number(id);
}
