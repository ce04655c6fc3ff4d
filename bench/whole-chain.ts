/**
 * Benchmark (b): the whole chain on real 1-minute bars (bars -> ingest -> features -> ensemble -> brains -> risk ->
 * paper execution <-> exits) as the product runs it over the memory bus, against a plain TypeScript loop over the same
 * engines, in the same run; prints figures and side-by-side counts, asserts nothing.
 *
 *   node --import tsx bench/whole-chain.ts [--symbols 16] [--days 7] [--data <dir>] [--no-journal] [--no-breakdown]
 *                                          [--constant-members 1]
 *
 * Variants: the RxJS chain without the journal (runAll's wiring, see whole-chain/chain.ts) with the shipped ONNX model
 * and with a ConstantModel; runAll itself with the embedded ClickHouse journal in a temp folder; the plain loop
 * (whole-chain/plain.ts) with both models; the CSV source alone; and an instrumented plain run for a stage breakdown.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { gunzipSync } from 'node:zlib';
import { loadDefaultEnsemble } from '../models/load.ts';
import type { ClassifierModel } from '../models/model-port.ts';
import { FEATURE_NAMES } from '../operators/features/feature-set.ts';
import { loadConfig, type Config } from '../pipelines/config.ts';
import { runAll } from '../pipelines/run/main.ts';
import { openJournal } from '../sinks/journal/open.ts';
import { openMarket } from '../pipelines/run/market.ts';
import type { RunSummary } from '../pipelines/run/summary.ts';
import { selectDataFiles, type DataFileInfo } from '../sources/binance-csv.ts';
import { runChain, type RunTimes } from './whole-chain/chain.ts';
import { ConstantModel, CONSTANT_PROBABILITIES, predictTimes, timed, type PredictTimes } from './whole-chain/models.ts';
import { runPlain, stageTimes, STAGES } from './whole-chain/plain.ts';
import { digestMismatches, formatCounts, Tally } from './whole-chain/tally.ts';

const DAY = 86_400_000;
const MIN_ROWS = 1000;
const ROOT = join(import.meta.dirname, '..');

interface Args {
  symbols: number;
  days: number;
  data: string;
  journal: boolean;
  breakdown: boolean;
  /** ConstantModel members of the constant runs (default 1); 4 gives the ONNX runs' votes and scores per vector. */
  constantMembers: number;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { symbols: 16, days: 7, data: '/work/shared/data/klines-1m/usdm', journal: true, breakdown: true, constantMembers: 1 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${k} needs a positive number`);
      return v;
    };
    if (k === '--symbols') a.symbols = Math.floor(num());
    else if (k === '--days') a.days = num();
    else if (k === '--data') a.data = argv[++i] ?? '';
    else if (k === '--no-journal') a.journal = false;
    else if (k === '--no-breakdown') a.breakdown = false;
    else if (k === '--constant-members') a.constantMembers = Math.floor(num());
    else throw new Error(`unknown argument ${k} (known: --symbols N, --days N, --data DIR, --no-journal, --no-breakdown, --constant-members N)`);
  }
  return a;
}

/** Data rows of a kline file and the open times of its first and last rows (the file is small: read whole). */
function scanFile(path: string): { rows: number; first: number; last: number } {
  const raw = readFileSync(path);
  const text = (path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
  let rows = 0;
  let first = Number.NaN;
  let last = Number.NaN;
  for (const line of text.split('\n')) {
    const t = Number(line.slice(0, line.indexOf(',')));
    if (line.length === 0 || !Number.isFinite(t) || t <= 0) continue; // blank line or header
    rows++;
    if (Number.isNaN(first)) first = t;
    last = t;
  }
  return { rows, first, last };
}

interface Selection {
  files: DataFileInfo[];
  skipped: string[];
  fromMs: number;
  toMs: number;
}

/** The first N kline files (by name) with at least MIN_ROWS rows; the span starts where all of them have data. */
async function selectData(args: Args): Promise<Selection> {
  const all = (await selectDataFiles(args.data, 'klines')).sort((a, b) => a.binanceId.localeCompare(b.binanceId));
  const skipped: string[] = [];
  const kept: { f: DataFileInfo; first: number; last: number }[] = [];
  for (const f of all) {
    const s = scanFile(f.path);
    if (s.rows < MIN_ROWS) skipped.push(`${f.binanceId} (${s.rows} rows)`);
    else if (kept.length < args.symbols) kept.push({ f, first: s.first, last: s.last });
  }
  if (kept.length === 0) throw new Error(`no kline file with >= ${MIN_ROWS} rows under ${args.data}`);
  const fromMs = Math.max(...kept.map((k) => k.first));
  const endMs = Math.min(...kept.map((k) => k.last)) + 60_000;
  return { files: kept.map((k) => k.f), skipped, fromMs, toMs: Math.min(endMs, fromMs + Math.round(args.days * DAY)) };
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return n;
}

const iso = (ms: number): string => new Date(ms).toISOString().slice(0, 16);
const fmtInt = (x: number): string => Math.round(x).toLocaleString('en-US');
const heapMiB = (): string => `${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`;

// A full GC between runs, so one run's garbage (a chain run leaves ~1 GB of topic logs) is not collected in the next.
setFlagsFromString('--expose-gc');
const fullGc = runInNewContext('gc') as () => void;

interface Row {
  name: string;
  times?: RunTimes;
  total: number;
  predict?: PredictTimes;
  summary?: RunSummary;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const sel = await selectData(args);
  const journalDir = mkdtempSync(join(tmpdir(), 'qt-bench-journal-'));
  const config: Config = loadConfig({
    flags: {
      run: { data: sel.files.map((f) => f.path), symbols: sel.files.map((f) => f.binanceId), from: sel.fromMs, to: sel.toMs, progress: false },
      ensemble: { modelsDir: join(ROOT, 'models/store') },
      metrics: { enabled: false },
      journal: { path: journalDir },
    },
  });
  const say = (s: string): void => void process.stdout.write(`${s}\n`);
  const note = (s: string): void => void process.stderr.write(`  .. ${s}\n`);

  let t = performance.now();
  const onnx = await loadDefaultEnsemble(config.ensemble.modelsDir, { expectedFeatures: FEATURE_NAMES });
  const loadSeconds = (performance.now() - t) / 1000;
  // One member by default; with N > 1, N members named like the ONNX ones (same probabilities, so the same signals and
  // trades as one) so the stage writes as many votes and scores per vector as the ONNX runs do.
  const constantNames = args.constantMembers === 1 ? ['const'] : Array.from({ length: args.constantMembers }, (_, i) => onnx[i]?.member ?? `const${i}`);
  const constant = constantNames.map((m) => new ConstantModel(m));
  say(`whole-chain: ${sel.files.length} symbols (${sel.files.map((f) => f.binanceId).join(', ')})`);
  say(`  span ${iso(sel.fromMs)} -> ${iso(sel.toMs)} UTC (${((sel.toMs - sel.fromMs) / DAY).toFixed(2)} days, from the latest first row of the files)`);
  say(`  data ${args.data}; skipped (< ${MIN_ROWS} rows): ${sel.skipped.join(', ') || 'none'}`);
  say(`  model: ${onnx.map((m) => `${m.member} ${m.version} (${m.card.family})`).join(', ')}, loaded in ${loadSeconds.toFixed(2)} s; ConstantModel p(DOWN,FLAT,UP) = ${CONSTANT_PROBABILITIES.join(', ')} as ${constantNames.join(', ')}`);
  say(`  machine: ${availableParallelism()} cores, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}, node ${process.version}`);

  const rows: Row[] = [];
  // The CSV source alone: reading, parsing and merging the files, as both paths do it (same openMarket).
  t = performance.now();
  const market = await openMarket(config);
  let items = 0;
  for await (const chunk of market.chunks()) items += chunk.length;
  const sourceSeconds = (performance.now() - t) / 1000;
  rows.push({ name: 'source alone (CSV read, parse, merge)', total: sourceSeconds, times: { open: 0, loop: sourceSeconds, close: 0 } });
  note(`source: ${fmtInt(items)} records in ${sourceSeconds.toFixed(2)} s`);

  const chainRun = async (name: string, models: readonly ClassifierModel[]): Promise<Row & { tally: Tally }> => {
    fullGc();
    const predict = predictTimes();
    const tally = new Tally(config.broker.initialEquity);
    const times = await runChain(config, models.map((m) => timed(m, predict)), tally);
    note(`${name}: ${times.loop.toFixed(1)} s, heap ${heapMiB()}`);
    return { name, times, total: times.open + times.loop + times.close, predict, summary: tally.summary.s, tally };
  };
  const plainRun = async (name: string, models: readonly ClassifierModel[]): Promise<Row & { tally: Tally; earlyCloses: number }> => {
    fullGc();
    const predict = predictTimes();
    const tally = new Tally(config.broker.initialEquity);
    const r = await runPlain(config, models.map((m) => timed(m, predict)), tally);
    note(`${name}: ${r.loop.toFixed(1)} s`);
    return { name, times: r, total: r.open + r.loop, predict, summary: tally.summary.s, tally, earlyCloses: r.earlyCloses };
  };

  const chainOnnx = await chainRun('RxJS chain, ONNX, no journal', onnx);
  const chainConst = await chainRun('RxJS chain, ConstantModel, no journal', constant);
  let journalRow: Row | undefined;
  let journalBytes = 0;
  let journalOpenClose = 0;
  try {
    if (args.journal) {
      // The journal's fixed cost: opening chdb and applying the DDL, then closing, on an empty folder.
      const emptyDir = mkdtempSync(join(tmpdir(), 'qt-bench-journal-empty-'));
      t = performance.now();
      await (await openJournal({ ...config.journal, path: emptyDir })).close();
      journalOpenClose = (performance.now() - t) / 1000;
      rmSync(emptyDir, { recursive: true, force: true });
      fullGc();
      t = performance.now();
      const res = await runAll(config, { stderr: process.stderr, wallNow: () => performance.now() });
      const total = (performance.now() - t) / 1000;
      journalBytes = dirBytes(journalDir);
      journalRow = { name: 'runAll: chain, ONNX, + chdb journal', total, summary: res.summary };
      note(`runAll with journal: ${total.toFixed(1)} s`);
    }
  } finally {
    rmSync(journalDir, { recursive: true, force: true });
  }
  const plainOnnx = await plainRun('plain loop, ONNX', onnx);
  const plainConst = await plainRun('plain loop, ConstantModel', constant);
  rows.push(chainOnnx, ...(journalRow ? [journalRow] : []), chainConst, plainOnnx, plainConst);

  let stages: ReturnType<typeof stageTimes> | undefined;
  let stagesLoop = 0;
  if (args.breakdown) {
    fullGc();
    stages = stageTimes();
    const r = await runPlain(config, onnx, new Tally(config.broker.initialEquity), stages);
    stagesLoop = r.loop;
    note(`instrumented plain loop: ${r.loop.toFixed(1)} s`);
  }
  for (const m of onnx) await m.close();

  const bars = chainOnnx.summary!.bars;
  say('');
  say(`symbol-bars: ${fmtInt(bars)} (${sel.files.length} symbols x ${fmtInt(bars / sel.files.length)} minutes); "loop" = first record read to last message settled, "total" adds opening the market (and closing)`);
  say('');
  const head = ['variant', 'loop s', 'bars/s (loop)', 'total s', 'predict s', 'calls', 'predict share'];
  const table = rows.map((r) => [
    r.name,
    r.times ? r.times.loop.toFixed(2) : '-',
    r.times ? fmtInt(bars / r.times.loop) : `(${fmtInt(bars / r.total)} over total)`,
    r.total.toFixed(2),
    r.predict ? (r.predict.ms / 1000).toFixed(2) : '-',
    r.predict ? fmtInt(r.predict.calls) : '-',
    r.predict && r.times ? `${((100 * r.predict.ms) / 1000 / r.times.loop).toFixed(1)}%` : '-',
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
  say(`  ${head.map((h, i) => (i === 0 ? h.padEnd(w[i]!) : h.padStart(w[i]!))).join('  ')}`);
  for (const r of table) say(`  ${r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ')}`);
  if (journalRow) say(`  (runAll reports no loop time; its total includes loading the model and opening, flushing and closing the journal)`);

  const loop = (r: Row): number => r.times!.loop;
  const src = sourceSeconds;
  say('');
  say('ratios (loop time, chain / plain):');
  say(`  ONNX model          ${(loop(chainOnnx) / loop(plainOnnx)).toFixed(2)}x   without the CSV source: ${((loop(chainOnnx) - src) / (loop(plainOnnx) - src)).toFixed(2)}x   without source and predict: ${((loop(chainOnnx) - src - chainOnnx.predict!.ms / 1000) / (loop(plainOnnx) - src - plainOnnx.predict!.ms / 1000)).toFixed(2)}x`);
  say(`  ConstantModel       ${(loop(chainConst) / loop(plainConst)).toFixed(2)}x   without the CSV source: ${((loop(chainConst) - src) / (loop(plainConst) - src)).toFixed(2)}x`);
  say(`  per symbol-bar      chain ${((1e6 * loop(chainOnnx)) / bars).toFixed(1)} us, plain ${((1e6 * loop(plainOnnx)) / bars).toFixed(1)} us (ONNX); chain ${((1e6 * loop(chainConst)) / bars).toFixed(1)} us, plain ${((1e6 * loop(plainConst)) / bars).toFixed(1)} us (constant)`);
  if (journalRow) {
    const base = chainOnnx.total + loadSeconds;
    say(`journal: runAll total ${journalRow.total.toFixed(2)} s vs chain without journal ${base.toFixed(2)} s (incl. model load): +${(journalRow.total - base).toFixed(2)} s, ${((100 * (journalRow.total - base)) / journalRow.total).toFixed(0)}% of runAll's time; ${(journalBytes / 2 ** 20).toFixed(1)} MiB on disk; opening + closing an empty journal alone takes ${journalOpenClose.toFixed(2)} s`);
  }
  const noInference = (r: Row): string => fmtInt(bars / (loop(r) - r.predict!.ms / 1000));
  say(`without inference (loop minus predict time): chain ${noInference(chainOnnx)} bars/s, plain ${noInference(plainOnnx)} bars/s (ONNX runs); ConstantModel runs trade differently (see counts)${args.constantMembers < onnx.length ? ` and, with ${args.constantMembers} member(s), write fewer votes and scores` : ''}, so they are not the ONNX runs minus inference`);

  // The aim: everything except inference costs no more than inference itself (ratio <= 1). Inference is the ONNX run's
  // predict time (all members, call to settlement); the ConstantModel run is the chain without ONNX, set against it.
  const inf = (r: Row): number => r.predict!.ms / 1000;
  const infOnnx = inf(chainOnnx);
  say('');
  say(`aim "everything except inference costs no more than inference itself" (loop times; inference = predict time of the ONNX chain run, ${infOnnx.toFixed(2)} s, ${fmtInt(bars / infOnnx)} bars/s; <= 1 meets it):`);
  say(`  chain, ONNX:          (loop - inference) / inference = ${((loop(chainOnnx) - infOnnx) / infOnnx).toFixed(2)}   without the CSV source: ${((loop(chainOnnx) - src - infOnnx) / infOnnx).toFixed(2)}`);
  say(`  chain, ConstantModel: loop / inference              = ${(loop(chainConst) / infOnnx).toFixed(2)}   without the CSV source: ${((loop(chainConst) - src) / infOnnx).toFixed(2)}   (its own predict: ${inf(chainConst).toFixed(2)} s, ${args.constantMembers} member(s))`);
  say(`  plain, ONNX:          (loop - inference) / inference = ${((loop(plainOnnx) - inf(plainOnnx)) / inf(plainOnnx)).toFixed(2)}   without the CSV source: ${((loop(plainOnnx) - src - inf(plainOnnx)) / inf(plainOnnx)).toFixed(2)}   (inference of that run: ${inf(plainOnnx).toFixed(2)} s)`);
  say(`  plain, ConstantModel: loop / inference              = ${(loop(plainConst) / inf(plainOnnx)).toFixed(2)}   without the CSV source: ${((loop(plainConst) - src) / inf(plainOnnx)).toFixed(2)}`);

  if (stages) {
    say('');
    say(`breakdown of the plain loop (instrumented ONNX run, ${stagesLoop.toFixed(2)} s; "ensemble" includes awaiting predict, "tally" is the summary and digests):`);
    const sum = STAGES.reduce((s, k) => s + stages[k], 0);
    for (const k of STAGES) say(`  ${k.padEnd(11)} ${(stages[k] / 1000).toFixed(2).padStart(7)} s  ${((100 * stages[k]) / sum).toFixed(1).padStart(5)}%`);
  }

  say('');
  const onnxCols = [{ name: 'chain', summary: chainOnnx.summary! }, { name: 'plain', summary: plainOnnx.summary! }];
  if (journalRow) onnxCols.push({ name: 'runAll+journal', summary: journalRow.summary! });
  const c1 = formatCounts(onnxCols);
  const c2 = formatCounts([{ name: 'chain', summary: chainConst.summary! }, { name: 'plain', summary: plainConst.summary! }]);
  say('counts, ONNX model:');
  say(c1.text);
  say('counts, ConstantModel:');
  say(c2.text);
  const d1 = digestMismatches(chainOnnx.tally, plainOnnx.tally);
  const d2 = digestMismatches(chainConst.tally, plainConst.tally);
  const nTopics = chainOnnx.tally.topics.size;
  say(`message-id digests chain vs plain (order-sensitive, per topic): ONNX ${d1.length === 0 ? `identical on all ${nTopics} topics` : `DIFFER on ${d1.join(', ')}`}; ConstantModel ${d2.length === 0 ? `identical on all ${chainConst.tally.topics.size} topics` : `DIFFER on ${d2.join(', ')}`}`);
  say(`counts match: ONNX ${c1.allMatch ? 'yes' : 'NO'}, ConstantModel ${c2.allMatch ? 'yes' : 'NO'}`);
  say('');
  say('not identical by construction:');
  say('  - the plain loop does not count messages in a meter, validate or encode Avro, or keep topic logs: that is the bus and metrics cost the chain pays');
  say('  - a vector the models reject would be a dead letter with a JSON (not Avro) payload in the plain loop; counts and reasons are the same');
  if (plainOnnx.earlyCloses + plainConst.earlyCloses > 0) say(`  - WARNING: ${plainOnnx.earlyCloses + plainConst.earlyCloses} micro-batches closed before their timer; the chain scores those at once, the plain loop at the next step`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
