/**
 * Inference benchmark: the latency of one call of each ensemble member (xgb, lgbm, nhits, patchtst: ONNX sessions as
 * served, models/load.ts) and of the whole vote (the ensemble stage's scoring of one micro-batch: every member's
 * predict, the soft vote and building the messages, pipelines/ensemble/epic.ts createEnsembleScorer), for micro-batches
 * of 1, 16 and 100 symbols per bar; prints p50/p90/p99/mean per call and per row, calls/s, and the whole vote against
 * the sum of the members (the cost of voting and messages). Asserts nothing.
 *
 *   node --import tsx bench/inference.ts [--data <dir>] [--batches 1,16,100] [--seconds 1] [--repeat 3] [--synthetic]
 *
 * Inputs are real feature vectors: Binance 1m klines (default /work/shared/data/klines-1m/usdm) through the bar
 * validator and the features operator (featureVectors), so tree models take the paths real data takes; without the
 * data (or with --synthetic) the seeded synthetic market's trades go through tradesToBars first, and the output says so.
 * A batch of n symbols per bar takes n instruments: the K real ones, then the same K shifted in time and renamed
 * (BTC/USDT#1, ...), so every instrument of a batch is distinct and each one's consecutive bars are consecutive real bars
 * (the stage's outcome tracker, regime detector and supervisor see a real per-instrument history).
 *
 * The whole vote is measured twice: as the chain runs it (governance sets the weights from realised outcomes) and with
 * fixed equal weights. Either way the EnsembleDesk also scores the outcomes each bar resolves (model.scores.v1), steps
 * the regime detector and runs the supervisor: that is part of the stage's per-batch work, so it is part of the figure.
 * Each scorer is fresh and warmed up past the label horizon and the governance's minOutcomes, so the figures are the
 * steady state. Members and the vote are measured interleaved, repetition after repetition; the table gives the
 * median over repetitions and the spread (min-max) of the mean.
 */
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { from, type SchedulerLike } from 'rxjs';
import { loadDefaultEnsemble } from '../models/load.ts';
import type { ClassifierModel } from '../models/model-port.ts';
import { createEnsembleScorer } from '../pipelines/ensemble/epic.ts';
import { FEATURE_NAMES, FEATURE_WARMUP_BARS, WINDOW_CHANNELS, WINDOW_LENGTH } from '../operators/features/feature-set.ts';
import { featureVectors } from '../operators/features/feature-vectors.ts';
import { createBarValidator } from '../operators/market/validate-bars.ts';
import { tradesToBars } from '../operators/market/trades-to-bars.ts';
import { GOVERNANCE_DEFAULTS } from '../operators/ensemble/governance.ts';
import type { Bar } from '../schemas/bar.ts';
import type { FeatureVector } from '../schemas/feature-vector.ts';
import { deriveId } from '../schemas/ids.ts';
import type { Outgoing } from '../schemas/ports.ts';
import { klineBatches, selectDataFiles } from '../sources/binance-csv.ts';
import { syntheticTrades } from '../sources/synthetic-market.ts';
import { PromMeter } from '../sinks/prometheus.ts';
import { predictTimes, timed, type PredictTimes } from './whole-chain/models.ts';

const MINUTE = 60_000;
const ROOT = join(import.meta.dirname, '..');
const DEFAULT_DATA = '/work/shared/data/klines-1m/usdm';
/** Vectors kept per real instrument: enough bars for the longest whole-vote run without wrapping. */
const VECTORS_PER_SYMBOL = 3000;
/** Kline files shorter than this (after the warm-up) are left out: a shifted copy needs room. */
const MIN_VECTORS = 1200;
/** Bars between the shifted copies of one real instrument. */
const SHIFT_BARS = 41;
/** Distinct member input batches per batch size (cycled, so the trees see varied rows). */
const MEMBER_BATCHES = 64;
/** The shared replay start of the renamed instruments. */
const T0 = Date.UTC(2025, 0, 6);

interface Args {
  data: string;
  batches: number[];
  seconds: number;
  repeat: number;
  synthetic: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { data: DEFAULT_DATA, batches: [1, 16, 100], seconds: 1, repeat: 3, synthetic: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${k} needs a positive number`);
      return v;
    };
    if (k === '--data') a.data = argv[++i] ?? '';
    else if (k === '--batches') a.batches = (argv[++i] ?? '').split(',').map((s) => Math.floor(Number(s)));
    else if (k === '--seconds') a.seconds = num();
    else if (k === '--repeat') a.repeat = Math.floor(num());
    else if (k === '--synthetic') a.synthetic = true;
    else throw new Error(`unknown argument ${k} (known: --data DIR, --batches 1,16,100, --seconds S, --repeat N, --synthetic)`);
  }
  if (a.batches.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--batches needs positive integers, e.g. 1,16,100');
  return a;
}

// The features operator stamps tsInit from its scheduler; the figures do not depend on it.
const still = { now: () => 0 } as unknown as SchedulerLike;

/** Feature vectors of a bar stream through the features operator (synchronous: `from` over an array). */
function vectorsOf(bars: readonly Bar[]): FeatureVector[] {
  const out: FeatureVector[] = [];
  from(bars).pipe(featureVectors({ scheduler: still })).subscribe((v) => out.push(v));
  return out;
}

/** Consecutive feature vectors of real instruments (one array each), from kline files. */
async function realVectors(dir: string): Promise<{ streams: FeatureVector[][]; used: string[]; skipped: string[] }> {
  const files = (await selectDataFiles(dir, 'klines')).sort((a, b) => a.binanceId.localeCompare(b.binanceId));
  const streams: FeatureVector[][] = [];
  const used: string[] = [];
  const skipped: string[] = [];
  const need = VECTORS_PER_SYMBOL + FEATURE_WARMUP_BARS;
  for (const f of files) {
    const validate = createBarValidator({ allowedLatenessMs: 0, stage: 'bench', scheduler: still });
    const bars: Bar[] = [];
    // Files are in time order: the reader stops at toMs, so only the head of a month-long file is read.
    const toMs = f.fromMs !== undefined ? f.fromMs + (need + 10) * MINUTE : undefined;
    for await (const batch of klineBatches(f.path, { toMs })) {
      for (const rec of batch) {
        const v = validate(rec);
        if (v.ok) bars.push(v.value);
      }
      if (bars.length >= need) break;
    }
    const vs = vectorsOf(bars.slice(0, need));
    if (vs.length < MIN_VECTORS) {
      skipped.push(`${f.binanceId} (${vs.length} vectors)`);
      continue;
    }
    streams.push(vs);
    used.push(f.binanceId);
  }
  return { streams, used, skipped };
}

/** Consecutive feature vectors of the seeded synthetic market: trades -> tradesToBars -> features operator. */
function syntheticVectors(): { streams: FeatureVector[][]; used: string[] } {
  const minutes = VECTORS_PER_SYMBOL + FEATURE_WARMUP_BARS + 5;
  const trades = syntheticTrades({ symbols: 12, seed: 7, fromMs: T0, toMs: T0 + minutes * MINUTE, tradesPerMinute: 20 });
  const bySymbol = new Map<string, Bar[]>();
  from(trades)
    .pipe(tradesToBars({ allowedLatenessMs: 0, scheduler: still }))
    .subscribe((b) => {
      let list = bySymbol.get(b.symbol);
      if (!list) bySymbol.set(b.symbol, (list = []));
      list.push(b);
    });
  const symbols = [...bySymbol.keys()].sort();
  return { streams: symbols.map((s) => vectorsOf(bySymbol.get(s)!)), used: symbols };
}

/**
 * The n instruments of a batch at bench bar b: instrument i is real stream i mod K shifted by floor(i / K) x
 * SHIFT_BARS bars, renamed when shifted, with the shared bar time T0 + b minutes (so consecutive b are consecutive bars
 * of every instrument). Values and windows are the real vector's (shared, not copied).
 */
function batchAt(streams: readonly FeatureVector[][], n: number, b: number): FeatureVector[] {
  const k = streams.length;
  const openTime = T0 + b * MINUTE;
  const out: FeatureVector[] = [];
  for (let i = 0; i < n; i++) {
    const s = streams[i % k]!;
    const copy = Math.floor(i / k);
    const v = s[(b + copy * SHIFT_BARS) % s.length]!;
    const symbol = copy === 0 ? v.symbol : `${v.symbol}#${copy}`;
    const barId = deriveId('bar', v.exchange, symbol, openTime);
    out.push({ ...v, id: deriveId('feat', barId, v.featureSet), symbol, barId, openTime, tsEvent: openTime + MINUTE, tsInit: openTime + MINUTE });
  }
  return out;
}

/** The input tensors of a batch, as the stage builds them: values [n, F] and windows [n, L, C]. */
function tensorsOf(batch: readonly FeatureVector[]): { values: Float32Array; windows: Float32Array } {
  const f = FEATURE_NAMES.length;
  const w = WINDOW_LENGTH * WINDOW_CHANNELS.length;
  const values = new Float32Array(batch.length * f);
  const windows = new Float32Array(batch.length * w);
  batch.forEach((v, i) => {
    values.set(v.values, i * f);
    windows.set(v.window, i * w);
  });
  return { values, windows };
}

interface Stats {
  calls: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
}

function statsOf(us: readonly number[]): Stats {
  const s = [...us].sort((a, b) => a - b);
  // Nearest rank: the smallest sample with at least q of the samples at or below it.
  const q = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  return { calls: s.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

/**
 * Calls `call(i)` for i = 0, 1, ...: `warmup` calls untimed, then timed calls until `seconds` have passed (at least
 * minCalls, at most maxCalls); `prepare(i)` runs before each call, outside the timing. Returns microseconds per call.
 */
async function measure<T>(
  prepare: (i: number) => T,
  call: (x: T) => Promise<unknown>,
  o: { warmup: number; seconds: number; minCalls: number; maxCalls: number },
): Promise<number[]> {
  let i = 0;
  for (; i < o.warmup; i++) await call(prepare(i));
  const samples: number[] = [];
  const end = performance.now() + o.seconds * 1000;
  while (samples.length < o.maxCalls && (samples.length < o.minCalls || performance.now() < end)) {
    const x = prepare(i++);
    const t0 = performance.now();
    await call(x);
    samples.push((performance.now() - t0) * 1000);
  }
  return samples;
}

const VOTE_GOV = 'whole vote (governance weights)';
const VOTE_FIXED = 'whole vote (fixed weights)';

interface VoteExtra {
  /** Predict time inside the vote (the members, through the stage), us per call. */
  predictUs: number;
  /** Messages per call. */
  messages: number;
  /** Messages per call by topic. */
  byTopic: Map<string, number>;
}

/** One measurement of one target at one batch size. */
interface Cell {
  stats: Stats;
  vote?: VoteExtra;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (x: number): string => (x >= 1000 ? Math.round(x).toLocaleString('en-US') : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

function printTable(say: (s: string) => void, head: readonly string[], rows: readonly string[][]): void {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: readonly string[]): string => `  ${r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ')}`;
  say(line(head));
  for (const r of rows) say(line(r));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const say = (s: string): void => void process.stdout.write(`${s}\n`);
  const note = (s: string): void => void process.stderr.write(`  .. ${s}\n`);

  let t = performance.now();
  let source: string;
  let streams: FeatureVector[][];
  let real: Awaited<ReturnType<typeof realVectors>> | undefined;
  if (!args.synthetic) {
    try {
      real = await realVectors(args.data);
      if (real.streams.length === 0) note(`no kline file under ${args.data} gives ${MIN_VECTORS} vectors`);
    } catch (e) {
      note(`cannot read ${args.data}: ${(e as Error).message}`);
    }
  }
  if (real && real.streams.length > 0) {
    streams = real.streams;
    source = `REAL klines: ${real.used.length} instruments from ${args.data} (${real.used.join(', ')}), ${VECTORS_PER_SYMBOL} consecutive vectors each${real.skipped.length > 0 ? `; skipped (too short): ${real.skipped.join(', ')}` : ''}`;
  } else {
    const syn = syntheticVectors();
    streams = syn.streams;
    source = `SYNTHETIC market (${args.synthetic ? '--synthetic' : `real klines unavailable under ${args.data}`}): ${syn.used.length} instruments, seed 7, trades -> bars -> features`;
  }
  const inputSeconds = (performance.now() - t) / 1000;
  const minLen = Math.min(...streams.map((s) => s.length));
  const maxN = Math.max(...args.batches);
  const maxShift = Math.floor((maxN - 1) / streams.length) * SHIFT_BARS;
  // The whole vote needs consecutive bars without wrapping: its warm-up and timed calls must fit in the streams.
  const voteBars = minLen - maxShift;
  if (voteBars < 400) throw new Error(`only ${voteBars} consecutive bars for ${maxN} instruments; use smaller --batches`);

  t = performance.now();
  const models = await loadDefaultEnsemble(join(ROOT, 'models/store'), { expectedFeatures: FEATURE_NAMES });
  const loadSeconds = (performance.now() - t) / 1000;
  const members = models.map((m) => m.member);

  say(`inference: ${members.length} members (${models.map((m) => `${m.member} ${m.version} ${m.card.family}, input ${m.card.input.kind}`).join('; ')}), loaded in ${loadSeconds.toFixed(2)} s`);
  say(`  inputs: ${source}; built in ${inputSeconds.toFixed(1)} s`);
  say(`  batches: ${args.batches.join(', ')} instruments per bar (beyond ${streams.length}: time-shifted, renamed copies); ${args.repeat} repetitions, ~${args.seconds} s per measurement`);
  say(`  onnxruntime-node, one session per model, intraOpNumThreads 1 (models/onnx-model.ts SESSION_OPTIONS); vote meter: PromMeter (as the chain)`);
  say(`  machine: ${availableParallelism()} cores, load average ${load()} at start, node ${process.version}`);

  const targets = [...members, VOTE_GOV, VOTE_FIXED];
  // results[target][batch] = one Cell per repetition
  const results = new Map<string, Map<number, Cell[]>>(targets.map((x) => [x, new Map(args.batches.map((n) => [n, [] as Cell[]]))]));
  const loads: string[] = [];

  // Member inputs: MEMBER_BATCHES distinct bars per batch size, built once, before any timing.
  const memberInputs = new Map(args.batches.map((n) => [n, Array.from({ length: MEMBER_BATCHES }, (_, j) => tensorsOf(batchAt(streams, n, j * 7)))]));
  const equal = Object.fromEntries(members.map((m) => [m, 1]));

  for (let rep = 0; rep < args.repeat; rep++) {
    for (const n of args.batches) {
      const inputs = memberInputs.get(n)!;
      const spec = { warmup: n >= 100 ? 30 : 100, seconds: args.seconds, minCalls: 100, maxCalls: 20_000 };
      for (const m of models) {
        const x = m.card.input.kind === 'window' ? 'windows' : 'values';
        const us = await measure((i) => inputs[i % inputs.length]![x], (batch) => m.predict(batch, n), spec);
        results.get(m.member)!.get(n)!.push({ stats: statsOf(us) });
      }
      for (const [name, weights] of [[VOTE_GOV, undefined], [VOTE_FIXED, equal]] as const) {
        const predict: PredictTimes = predictTimes();
        const score = createEnsembleScorer({ models: models.map((m) => timed(m, predict)), meter: new PromMeter(), weights });
        // Past the label horizon (outcomes resolve and are scored) and the governance's minOutcomes (weights move).
        const horizon = models[0]!.card.label.horizonBars;
        const warmup = horizon + Math.ceil(GOVERNANCE_DEFAULTS.minOutcomes / n) + 20;
        let counting = false;
        let messages = 0;
        const byTopic = new Map<string, number>();
        let predictMs0 = 0;
        let calls0 = 0;
        const us = await measure(
          (i) => {
            if (i === warmup && !counting) {
              counting = true;
              predictMs0 = predict.ms;
              calls0 = predict.calls;
            }
            return batchAt(streams, n, i);
          },
          async (batch) => {
            const outs: Outgoing[] = await score(batch, batch[0]!.tsEvent);
            if (counting) {
              messages += outs.length;
              for (const o of outs) byTopic.set(o.topic, (byTopic.get(o.topic) ?? 0) + 1);
            }
          },
          { warmup, seconds: args.seconds, minCalls: 100, maxCalls: voteBars - warmup },
        );
        const calls = us.length;
        if ((predict.calls - calls0) / members.length !== calls) throw new Error(`vote: ${predict.calls - calls0} predict calls for ${calls} batches`);
        for (const [k, v] of byTopic) byTopic.set(k, v / calls);
        results.get(name)!.get(n)!.push({ stats: statsOf(us), vote: { predictUs: ((predict.ms - predictMs0) * 1000) / calls, messages: messages / calls, byTopic } });
      }
      note(`repetition ${rep + 1}, batch ${n}: done, load ${load()}`);
    }
    loads.push(load());
  }
  for (const m of models) await m.close();

  say('');
  say(`latency per call and per row, microseconds (median over ${args.repeat} repetitions; "mean spread" = min-max of the per-repetition means)`);
  const rows: string[][] = [];
  for (const n of args.batches) {
    for (const target of targets) {
      const cells = results.get(target)!.get(n)!;
      const med = (f: (s: Stats) => number): number => median(cells.map((c) => f(c.stats)));
      const mean = med((s) => s.mean);
      const means = cells.map((c) => c.stats.mean);
      rows.push([
        target,
        String(n),
        fmt(med((s) => s.p50)),
        fmt(med((s) => s.p90)),
        fmt(med((s) => s.p99)),
        fmt(mean),
        `${fmt(Math.min(...means))}-${fmt(Math.max(...means))}`,
        fmt(med((s) => s.p50) / n),
        fmt(mean / n),
        fmt(1e6 / mean),
        fmt(n * (1e6 / mean)),
        String(Math.round(median(cells.map((c) => c.stats.calls)))),
      ]);
    }
  }
  printTable(say, ['target', 'batch', 'p50', 'p90', 'p99', 'mean', 'mean spread', 'p50/row', 'mean/row', 'calls/s', 'rows/s', 'calls'], rows);

  say('');
  say('whole vote against its members (per call, mean; "members isolated" = sum of the four members measured alone above, "predict in vote" = the members\' predict time measured inside the vote):');
  const vrows: string[][] = [];
  for (const n of args.batches) {
    for (const name of [VOTE_GOV, VOTE_FIXED]) {
      const cells = results.get(name)!.get(n)!;
      // Ratios per repetition (members and vote of the same repetition), then the median and spread.
      const perRep = cells.map((c, r) => {
        const sum = members.reduce((s, m) => s + results.get(m)!.get(n)![r]!.stats.mean, 0);
        const sum50 = members.reduce((s, m) => s + results.get(m)!.get(n)![r]!.stats.p50, 0);
        return { sum, sum50, vote: c.stats.mean, vote50: c.stats.p50, inVote: c.vote!.predictUs };
      });
      const r1 = perRep.map((p) => p.vote / p.sum);
      const r50 = perRep.map((p) => p.vote50 / p.sum50);
      const over = perRep.map((p) => (p.vote - p.inVote) / p.inVote);
      const span = (xs: number[]): string => `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}`;
      const msgs = median(cells.map((c) => c.vote!.messages));
      const topics = [...cells[0]!.vote!.byTopic.keys()].sort();
      vrows.push([
        name,
        String(n),
        fmt(median(perRep.map((p) => p.sum))),
        fmt(median(perRep.map((p) => p.vote))),
        `${median(r1).toFixed(2)} (${span(r1)})`,
        `${median(r50).toFixed(2)}`,
        fmt(median(perRep.map((p) => p.inVote))),
        `${median(over).toFixed(2)} (${span(over)})`,
        `${fmt(msgs)} (${topics.map((k) => `${k.replace(/\.v1$/, '')} ${fmt(median(cells.map((c) => c.vote!.byTopic.get(k) ?? 0)))}`).join(', ')})`,
      ]);
    }
  }
  printTable(say, ['vote', 'batch', 'members isolated us', 'vote us', 'vote / members', 'same, p50', 'predict in vote us', '(vote - predict) / predict', 'messages per call'], vrows);
  say('');
  say(`load average after each repetition: ${loads.join(' | ')}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
