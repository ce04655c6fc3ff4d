/**
 * Benchmark (a): ticks -> 1m bars -> feature vectors, through the RxJS chain and through a plain loop over the same
 * engines (BarAggregator, FeatureEngine: the very code the operators wrap), in the same run.
 *
 *   node --import tsx bench/ticks-to-features.ts [--ticks 10000000] [--symbols 100] [--ticks-per-bar 100]
 *                                                [--lateness 0] [--objects] [--repeat 2]
 *
 * Ticks are generated before any timing: by default into typed arrays (10M ticks ~ 270 MB) and replayed through one
 * reused, mutable Trade object (a flyweight: 10M Trade objects would need several GB), by the same source function for
 * both paths. Neither engine keeps a reference to a trade, so the reuse changes no result. With --objects, ticks are
 * pre-built Trade objects and the RxJS path is literally `from(ticks).pipe(tradesToBars(...), featureVectors(...))`
 * (use a smaller --ticks). The source alone is timed too, so its share can be subtracted.
 */
import { from, Observable, tap, type SchedulerLike } from 'rxjs';
import { featureVectors, FeatureEngine } from '../operators/features/feature-vectors.ts';
import { BarAggregator, tradesToBars } from '../operators/market/trades-to-bars.ts';
import type { Bar } from '../schemas/bar.ts';
import type { FeatureVector } from '../schemas/feature-vector.ts';
import type { Trade } from '../schemas/trade.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface Args {
  ticks: number;
  symbols: number;
  ticksPerBar: number;
  lateness: number;
  objects: boolean;
  repeat: number;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { ticks: 10_000_000, symbols: 100, ticksPerBar: 100, lateness: 0, objects: false, repeat: 2 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${k} needs a positive number`);
      return v;
    };
    if (k === '--ticks') a.ticks = Math.floor(num());
    else if (k === '--symbols') a.symbols = Math.floor(num());
    else if (k === '--ticks-per-bar') a.ticksPerBar = num();
    else if (k === '--lateness') a.lateness = Number(argv[++i]);
    else if (k === '--objects') a.objects = true;
    else if (k === '--repeat') a.repeat = Math.floor(num());
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

/** Ticks in columns: global event-time order, symbols interleaved at random, each symbol's price a random walk. */
interface Tape {
  readonly n: number;
  readonly ts: Float64Array;
  readonly price: Float64Array;
  readonly size: Float64Array;
  readonly sym: Uint16Array;
  readonly buy: Uint8Array;
  readonly symbols: readonly string[];
}

function generate(n: number, nSymbols: number, ticksPerBar: number): Tape {
  const ts = new Float64Array(n);
  const price = new Float64Array(n);
  const size = new Float64Array(n);
  const sym = new Uint16Array(n);
  const buy = new Uint8Array(n);
  const symbols = Array.from({ length: nSymbols }, (_, i) => `SYN${i}/USDT`);
  const last = Float64Array.from({ length: nSymbols }, (_, i) => 10 + 7 * i);
  // xorshift32: cheap and deterministic.
  let x = 0x9e3779b9;
  const rnd = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
  const t0 = Date.UTC(2024, 0, 1);
  const msPerTick = 60_000 / (ticksPerBar * nSymbols);
  for (let i = 0; i < n; i++) {
    const k = Math.floor(rnd() * nSymbols);
    const p = Math.round(last[k]! * (1 + (rnd() - 0.5) * 0.002) * 1e4) / 1e4;
    last[k] = p;
    ts[i] = t0 + Math.floor(i * msPerTick);
    price[i] = p;
    size[i] = 0.001 + rnd() * rnd() * 5;
    sym[i] = k;
    buy[i] = rnd() < 0.5 ? 1 : 0;
  }
  return { n, ts, price, size, sym, buy, symbols };
}

/** The clock of the run: like a replay, now() is the event time of the tick being processed. */
const now = { t: 0 };
const clock = { now: () => now.t } as SchedulerLike;

/** Replays the tape through one reused Trade object. */
function replay(tape: Tape, sink: (t: Trade) => void): void {
  const fly: Mutable<Trade> = { id: '', tsEvent: 0, tsInit: 0, exchange: 'synthetic', symbol: '', tradeId: '', price: 0, size: 0, side: 'BUY' };
  const { n, ts, price, size, sym, buy, symbols } = tape;
  for (let i = 0; i < n; i++) {
    const t = ts[i]!;
    now.t = t;
    fly.tsEvent = t;
    fly.tsInit = t;
    fly.symbol = symbols[sym[i]!]!;
    fly.price = price[i]!;
    fly.size = size[i]!;
    fly.side = buy[i] === 1 ? 'BUY' : 'SELL';
    sink(fly);
  }
}

function toObjects(tape: Tape): Trade[] {
  const out = new Array<Trade>(tape.n);
  for (let i = 0; i < tape.n; i++) {
    const t = tape.ts[i]!;
    out[i] = { id: `synthetic:${tape.symbols[tape.sym[i]!]}:${i}`, tsEvent: t, tsInit: t, exchange: 'synthetic', symbol: tape.symbols[tape.sym[i]!]!, tradeId: String(i), price: tape.price[i]!, size: tape.size[i]!, side: tape.buy[i] === 1 ? 'BUY' : 'SELL' };
  }
  return out;
}

/** What a run produced: counts and order-sensitive checksums, equal between the two paths when they agree. */
interface Result {
  seconds: number;
  bars: number;
  vectors: number;
  barSum: number;
  vecSum: number;
}

function tally(r: Result, v: FeatureVector): void {
  r.vectors++;
  // Position-weighted so that a reordering or a swapped value shows.
  r.vecSum += v.values[0]! * 1e3 + v.values[9]! + v.window[95]! * 1e-3 + (r.vectors % 7) * v.close * 1e-9;
}

function tallyBar(r: Result, b: Bar): void {
  r.bars++;
  r.barSum += b.close + b.volume * 1e-3 + (r.bars % 11) * 1e-6 * b.trades;
}

function fresh(): Result {
  return { seconds: 0, bars: 0, vectors: 0, barSum: 0, vecSum: 0 };
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function runRx(tape: Tape, objects: readonly Trade[] | null, lateness: number): Result {
  const r = fresh();
  const src: Observable<Trade> = objects
    ? from(objects)
    : new Observable<Trade>((sub) => {
        replay(tape, (t) => sub.next(t));
        sub.complete();
      });
  // Counting bars takes a tap between the operators: one more operator per bar, not per tick.
  const start = process.hrtime.bigint();
  src
    .pipe(
      tradesToBars({ allowedLatenessMs: lateness, scheduler: clock }),
      tap((b) => tallyBar(r, b)),
      featureVectors({ scheduler: clock }),
    )
    .subscribe({ next: (v) => tally(r, v) });
  r.seconds = seconds(start);
  return r;
}

function runPlain(tape: Tape, objects: readonly Trade[] | null, lateness: number): Result {
  const r = fresh();
  const start = process.hrtime.bigint();
  const agg = new BarAggregator({ allowedLatenessMs: lateness, scheduler: clock });
  const eng = new FeatureEngine({ scheduler: clock });
  const onBars = (bars: readonly Bar[]) => {
    for (const b of bars) {
      tallyBar(r, b);
      const v = eng.onBar(b);
      if (v !== null) tally(r, v);
    }
  };
  const onTrade = (t: Trade) => {
    const bars = agg.push(t);
    if (bars !== null) onBars(bars);
  };
  if (objects) for (let i = 0; i < objects.length; i++) onTrade(objects[i]!);
  else replay(tape, onTrade);
  onBars(agg.flush());
  r.seconds = seconds(start);
  return r;
}

function runSourceOnly(tape: Tape, objects: readonly Trade[] | null): number {
  let acc = 0;
  const start = process.hrtime.bigint();
  if (objects) for (let i = 0; i < objects.length; i++) acc += objects[i]!.price;
  else replay(tape, (t) => (acc += t.price));
  const s = seconds(start);
  if (acc === -1) console.log(acc); // keeps the loop from being optimised away
  return s;
}

function fmtRate(n: number, s: number): string {
  return `${(n / s / 1e6).toFixed(2)}M ticks/s`;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  console.log(`ticks-to-features: ${args.ticks.toLocaleString('en')} ticks, ${args.symbols} symbols, ~${args.ticksPerBar} ticks per symbol-minute, lateness ${args.lateness} ms, source: ${args.objects ? 'Trade objects, from(array)' : 'typed arrays + one reused Trade'}`);
  let t = process.hrtime.bigint();
  const tape = generate(args.ticks, args.symbols, args.ticksPerBar);
  const objects = args.objects ? toObjects(tape) : null;
  console.log(`generated in ${seconds(t).toFixed(2)} s (not timed below); heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`);

  // Warm the JIT on a slice of the tape, both paths.
  const warmN = Math.min(args.ticks, 300_000);
  const warm: Tape = { ...tape, n: warmN };
  runRx(warm, objects ? objects.slice(0, warmN) : null, args.lateness);
  runPlain(warm, objects ? objects.slice(0, warmN) : null, args.lateness);

  let best = { rx: Infinity, plain: Infinity, src: Infinity };
  let rx = fresh();
  let plain = fresh();
  for (let i = 0; i < args.repeat; i++) {
    rx = runRx(tape, objects, args.lateness);
    plain = runPlain(tape, objects, args.lateness);
    const src = runSourceOnly(tape, objects);
    best = { rx: Math.min(best.rx, rx.seconds), plain: Math.min(best.plain, plain.seconds), src: Math.min(best.src, src) };
    console.log(`  run ${i + 1}: rxjs ${rx.seconds.toFixed(3)} s, plain ${plain.seconds.toFixed(3)} s, source alone ${src.toFixed(3)} s`);
  }
  t = process.hrtime.bigint();
  const same = rx.bars === plain.bars && rx.vectors === plain.vectors && rx.barSum === plain.barSum && rx.vecSum === plain.vecSum;
  console.log(`source alone : ${fmtRate(args.ticks, best.src)} (${best.src.toFixed(3)} s)`);
  console.log(`rxjs chain   : ${fmtRate(args.ticks, best.rx)} (${best.rx.toFixed(3)} s)  bars ${rx.bars}, vectors ${rx.vectors}`);
  console.log(`plain loop   : ${fmtRate(args.ticks, best.plain)} (${best.plain.toFixed(3)} s)  bars ${plain.bars}, vectors ${plain.vectors}`);
  console.log(`ratio rxjs / plain time: ${(best.rx / best.plain).toFixed(2)}x; without the source: ${((best.rx - best.src) / (best.plain - best.src)).toFixed(2)}x`);
  console.log(`outputs identical (counts and checksums): ${same ? 'yes' : 'NO'}`);
  if (!same) {
    console.error({ rx, plain });
    process.exitCode = 1;
  }
}

main();
