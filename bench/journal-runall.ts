/**
 * runAll alone (chain + embedded journal) on the whole-chain benchmark's data selection, for timing and profiling the
 * journal without the benchmark's other variants:
 *   node [--cpu-prof] --import tsx bench/journal-runall.ts [--symbols 16] [--days 2] [--data <dir>] [--keep <journal dir>] [--batch-rows N]
 * Prints runAll's wall time, the CPU time of the process (all threads: the engine inserts off the main thread) and the
 * rows journaled per table.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { loadConfig } from '../pipelines/config.ts';
import { runAll } from '../pipelines/run/main.ts';
import { ChdbJournal } from '../sinks/journal/chdb-journal.ts';
import { JOURNAL_DB, JOURNAL_TABLES } from '../sinks/journal/tables.ts';
import { selectDataFiles } from '../sources/binance-csv.ts';

const DAY = 86_400_000;
const ROOT = join(import.meta.dirname, '..');

const args = { symbols: 16, days: 2, data: '/work/shared/data/klines-1m/usdm', keep: '', batchRows: 0 };
for (let i = 2; i < process.argv.length; i++) {
  const k = process.argv[i]!;
  const v = process.argv[++i] ?? '';
  if (k === '--symbols') args.symbols = Number(v);
  else if (k === '--days') args.days = Number(v);
  else if (k === '--data') args.data = v;
  else if (k === '--keep') args.keep = v;
  else if (k === '--batch-rows') args.batchRows = Number(v);
  else throw new Error(`unknown argument ${k}`);
}

// The same selection as bench/whole-chain.ts: the first N kline files (by name) with >= 1000 rows, from the latest first row.
const kept: { path: string; id: string; first: number; last: number }[] = [];
for (const f of (await selectDataFiles(args.data, 'klines')).sort((a, b) => a.binanceId.localeCompare(b.binanceId))) {
  if (kept.length >= args.symbols) break;
  const raw = readFileSync(f.path);
  const times = (f.path.endsWith('.gz') ? gunzipSync(raw) : raw)
    .toString('utf8')
    .split('\n')
    .map((l) => Number(l.slice(0, l.indexOf(','))))
    .filter((t) => Number.isFinite(t) && t > 0);
  if (times.length >= 1000) kept.push({ path: f.path, id: f.binanceId, first: times[0]!, last: times[times.length - 1]! });
}
const fromMs = Math.max(...kept.map((k) => k.first));
const toMs = Math.min(Math.min(...kept.map((k) => k.last)) + 60_000, fromMs + Math.round(args.days * DAY));
const dir = args.keep || mkdtempSync(join(tmpdir(), 'qt-journal-runall-'));
const config = loadConfig({
  flags: {
    run: { data: kept.map((k) => k.path), symbols: kept.map((k) => k.id), from: fromMs, to: toMs, progress: false },
    ensemble: { modelsDir: join(ROOT, 'models/store') },
    metrics: { enabled: false },
    journal: { path: dir, ...(args.batchRows ? { batchRows: args.batchRows } : {}) },
  },
});
try {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const res = await runAll(config, { stderr: process.stderr, wallNow: () => performance.now() });
  const total = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const j = new ChdbJournal({ path: dir });
  let rows = 0;
  const per: string[] = [];
  for (const t of JOURNAL_TABLES) {
    const [r] = await j.query<{ n: number }>(`SELECT count() AS n FROM ${JOURNAL_DB}.${t}`);
    rows += Number(r?.n ?? 0);
    if (Number(r?.n)) per.push(`${t} ${r!.n}`);
  }
  await j.close();
  console.log(`runAll ${total.toFixed(2)} s (cpu of all threads: user ${(cpu.user / 1e6).toFixed(2)} s, system ${(cpu.system / 1e6).toFixed(2)} s), ${res.summary.bars} symbol-bars, ${rows} journal rows (${per.join(', ')})`);
} finally {
  if (!args.keep) rmSync(dir, { recursive: true, force: true });
}
