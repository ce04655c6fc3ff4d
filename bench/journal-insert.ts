/**
 * Journal insert throughput on a realistic mix, through the real journal (ChdbJournal: row mapping, batching,
 * serialisation, chdb insert), per table and for the whole mix, with each insert format of the embedded journal:
 *
 *   node --import tsx bench/journal-insert.ts [--bars 46080] [--batch-rows 10000] [--format RowBinary|JSONCompactEachRow|both]
 *                                             [--feed stage|per-record]
 *
 * The mix is that of the whole-chain benchmark (bench/whole-chain.ts, 16 symbols): per symbol-bar one bar, one
 * feature vector (10 values and a 32 x 3 window), one model vote, one signal and one decision with one member each
 * (the decision also fills decision_members), plus risk verdicts, orders, fills, positions, equity and exits at the
 * rates of that run. Doubles carry full precision, as computed features and probabilities do. Messages are handed to
 * the journal as the journal stage does (chunks of WRITE_CHUNK per topic, a flush whenever one topic has delivered
 * batchRows records), or with `--feed per-record` as the stage did before (one write per record, a flush every
 * batchRows records in total); "per table" writes one topic alone and flushes.
 *
 * Columns: map = row mapping alone; serialise = turning those rows into the insert body alone (JSON text, or RowBinary);
 * journal = write + flush end to end (map + serialise + the engine's insert; the engine parses and writes off the main
 * thread); cpu = CPU time of the process over it, all threads.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WRITE_CHUNK } from '../pipelines/journal/stage.ts';
import type { TopicName, Topics } from '../schemas/topics.ts';
import { ChdbJournal, type ChdbInsertFormat } from '../sinks/journal/chdb-journal.ts';
import { BinaryWriter, rowsEncoderFor } from '../sinks/journal/row-binary.ts';
import { mapRows, type Row } from '../sinks/journal/rows.ts';
import { JOURNAL_DB, columnsOf, tableOf, type JournalTable } from '../sinks/journal/tables.ts';
import { sampleMessages } from '../sinks/journal/test-messages.ts';

interface Args {
  bars: number;
  batchRows: number;
  formats: ChdbInsertFormat[];
  feed: 'stage' | 'per-record';
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { bars: 46_080, batchRows: 10_000, formats: ['JSONCompactEachRow', 'RowBinary'], feed: 'stage' };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = argv[++i] ?? '';
    if (k === '--bars') a.bars = Number(v);
    else if (k === '--batch-rows') a.batchRows = Number(v);
    else if (k === '--format') a.formats = v === 'both' ? a.formats : [v as ChdbInsertFormat];
    else if (k === '--feed') a.feed = v === 'per-record' ? 'per-record' : 'stage';
    else throw new Error(`unknown argument ${k} (known: --bars N, --batch-rows N, --format RowBinary|JSONCompactEachRow|both, --feed stage|per-record)`);
  }
  return a;
}

// A seeded generator: the same messages every run.
let seed = 42;
const rnd = (): number => {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
  return seed / 2_147_483_648;
};
/** A non-integral double gets full precision (x * (1 + tiny noise)), as computed values have; integers stay. */
function jitter<T>(m: T): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'number') return Number.isInteger(v) || !Number.isFinite(v) ? v : v * (1 + (rnd() - 0.5) * 1e-6);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(m) as T;
}

/** Rates per symbol-bar of the rarer topics, from the whole-chain run (16 symbols, 2 days, ONNX model). */
const RARE: readonly (readonly [TopicName, number])[] = [
  ['risk.orders.v1', 585 / 46_080],
  ['exec.orders.v1', 117 / 46_080],
  ['exec.fills.v1', 46 / 46_080],
  ['pos.positions.v1', 184 / 46_080],
  ['pos.equity.v1', 187 / 46_080],
  ['exit.events.v1', 41 / 46_080],
];
const BUSY: readonly TopicName[] = ['md.bars.1m.v1', 'feat.vectors.v1', 'model.votes.v1', 'ens.signals.v1', 'brain.decisions.v1'];

type Message = { topic: TopicName; value: Topics[TopicName] };

function buildMix(bars: number): Message[] {
  const out: Message[] = [];
  const acc = new Map<TopicName, number>();
  for (let i = 0; i < bars; i++) {
    const s = sampleMessages(i) as unknown as Record<string, Record<string, unknown>>;
    const member = (s['brain.decisions.v1']!.members as unknown[]).slice(0, 1);
    const fv = { ...s['feat.vectors.v1'], values: Array.from({ length: 10 }, () => (rnd() - 0.5) * 0.1), windowLength: 32, windowChannels: 3, window: Array.from({ length: 96 }, () => rnd() - 0.5) };
    const msgs: Record<string, unknown> = {
      ...s,
      'feat.vectors.v1': fv,
      'ens.signals.v1': { ...s['ens.signals.v1'], members: member, market: { ...(s['ens.signals.v1']!.market as object), ret: 0.0012 } },
      'brain.decisions.v1': { ...s['brain.decisions.v1'], members: member },
    };
    for (const t of BUSY) out.push({ topic: t, value: jitter(msgs[t]) as Topics[TopicName] });
    for (const [t, rate] of RARE) {
      const a = (acc.get(t) ?? 0) + rate;
      acc.set(t, a >= 1 ? a - 1 : a);
      if (a >= 1) out.push({ topic: t, value: jitter(msgs[t]) as Topics[TopicName] });
    }
  }
  return out;
}

/** Writes as the journal stage did before: one write per record, a flush every batchRows records in total. */
async function feedPerRecord(journal: ChdbJournal, msgs: readonly Message[], batchRows: number): Promise<void> {
  const failures: unknown[] = [];
  const flushes: Promise<void>[] = [];
  let since = 0;
  for (const m of msgs) {
    journal.write(m.topic, [m.value]).catch((e: unknown) => failures.push(e));
    if (++since >= batchRows) {
      since = 0;
      flushes.push(journal.flush());
    }
  }
  await Promise.all(flushes);
  await journal.flush();
  if (failures.length > 0) throw failures[0];
}

/** Writes like the journal stage: per-topic chunks, a flush whenever one topic has delivered batchRows records. */
async function feedStage(journal: ChdbJournal, msgs: readonly Message[], batchRows: number): Promise<void> {
  const held = new Map<TopicName, Topics[TopicName][]>();
  const since = new Map<TopicName, number>();
  const failures: unknown[] = [];
  const handOver = (t: TopicName): void => {
    const b = held.get(t);
    if (!b || b.length === 0) return;
    held.set(t, []);
    journal.write(t, b).catch((e: unknown) => failures.push(e));
  };
  const flushes: Promise<void>[] = [];
  for (const m of msgs) {
    let b = held.get(m.topic);
    if (!b) held.set(m.topic, (b = []));
    b.push(m.value);
    if (b.length >= WRITE_CHUNK) handOver(m.topic);
    const n = (since.get(m.topic) ?? 0) + 1;
    since.set(m.topic, n);
    if (n >= batchRows) {
      for (const t of held.keys()) handOver(t);
      since.clear();
      flushes.push(journal.flush());
    }
  }
  for (const t of held.keys()) handOver(t);
  await Promise.all(flushes);
  await journal.flush();
  if (failures.length > 0) throw failures[0];
}

function rowsByTable(msgs: readonly Message[]): Map<JournalTable, Row[]> {
  const out = new Map<JournalTable, Row[]>();
  for (const m of msgs) {
    mapRows(m.topic, [m.value], (t, r) => {
      let a = out.get(t);
      if (!a) out.set(t, (a = []));
      a.push(r);
    });
  }
  return out;
}

const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
const ms = (x: number): string => x.toFixed(0);
const cpuMs = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1000;

async function measure(format: ChdbInsertFormat, msgs: readonly Message[], batchRows: number, feedMode: Args['feed']): Promise<string[][]> {
  const feed = feedMode === 'stage' ? feedStage : feedPerRecord;
  const dir = mkdtempSync(join(tmpdir(), 'qt-journal-insert-'));
  const journal = new ChdbJournal({ path: dir, batchRows, insertFormat: format });
  const lines: string[][] = [];
  try {
    await journal.init();
    const byTopic = new Map<TopicName, Message[]>();
    for (const m of msgs) {
      let a = byTopic.get(m.topic);
      if (!a) byTopic.set(m.topic, (a = []));
      a.push(m);
    }
    const encoders = new Map<JournalTable, ReturnType<typeof rowsEncoderFor>>();
    for (const table of new Set([...byTopic.keys()].flatMap((t) => [tableOf(t), ...(t === 'brain.decisions.v1' ? ['decision_members' as const] : [])]))) {
      const types = await journal.query<{ name: string; type: string }>(`SELECT name, type FROM system.columns WHERE database = '${JOURNAL_DB}' AND table = '${table}'`);
      const byName = new Map(types.map((c) => [c.name, c.type]));
      encoders.set(table, rowsEncoderFor(columnsOf(table).map((c) => byName.get(c.name)!)));
    }
    let total = { rows: 0, journal: 0, cpu: 0 };
    for (const [topic, ms_] of byTopic) {
      // Pieces alone, on the same messages: the mapping, then the serialisation of its rows.
      let t0 = performance.now();
      const rows = rowsByTable(ms_);
      const mapMs = performance.now() - t0;
      t0 = performance.now();
      for (const [table, rs] of rows) {
        if (format === 'RowBinary') {
          const w = new BinaryWriter();
          for (let i = 0; i < rs.length; i += batchRows) {
            w.pos = 0;
            encoders.get(table)!(rs.slice(i, i + batchRows), w);
          }
        } else {
          for (let i = 0; i < rs.length; i += batchRows) {
            let body = '';
            for (const r of rs.slice(i, i + batchRows)) body += `${JSON.stringify(r)}\n`;
            Buffer.from(body);
          }
        }
      }
      const serMs = performance.now() - t0;
      // End to end through the journal.
      const cpu0 = process.cpuUsage();
      t0 = performance.now();
      await feed(journal, ms_, batchRows);
      const jMs = performance.now() - t0;
      const cpu = cpuMs(process.cpuUsage(cpu0));
      const n = [...rows.values()].reduce((s, r) => s + r.length, 0);
      total = { rows: total.rows + n, journal: total.journal + jMs, cpu: total.cpu + cpu };
      lines.push([[...rows.keys()].join(' + '), fmt(n), ms(mapMs), ms(serMs), ms(jMs), ms(cpu), fmt((1000 * n) / jMs)]);
    }
    lines.push(['sum of the tables', fmt(total.rows), '', '', ms(total.journal), ms(total.cpu), fmt((1000 * total.rows) / total.journal)]);
    // The whole mix, interleaved as the chain produces it, into fresh tables.
    for (const t of ['trades', ...encoders.keys()]) await journal.query(`TRUNCATE TABLE ${JOURNAL_DB}.${t}`);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await feed(journal, msgs, batchRows);
    const jMs = performance.now() - t0;
    lines.push(['whole mix, interleaved', fmt(total.rows), '', '', ms(jMs), ms(cpuMs(process.cpuUsage(cpu0))), fmt((1000 * total.rows) / jMs)]);
  } finally {
    await journal.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const msgs = buildMix(args.bars);
  const feeding = args.feed === 'stage' ? `write chunks of ${WRITE_CHUNK} per topic` : 'one write per record';
  console.log(`journal-insert: ${fmt(args.bars)} symbol-bars, ${fmt(msgs.length)} messages, batchRows ${fmt(args.batchRows)}, ${feeding}`);
  for (const format of args.formats) {
    const lines = await measure(format, msgs, args.batchRows, args.feed);
    const head = ['table', 'rows', 'map ms', 'serialise ms', 'journal ms', 'cpu ms', 'rows/s'];
    const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
    console.log(`\n${format}:`);
    console.log(`  ${head.map((h, i) => (i === 0 ? h.padEnd(w[i]!) : h.padStart(w[i]!))).join('  ')}`);
    for (const l of lines) console.log(`  ${l.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ')}`);
  }
}

await main();
