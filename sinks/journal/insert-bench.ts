/**
 * Measures the ways to insert journal rows into chdb, on the real DDL and row mapping:
 *   node --import tsx sinks/journal/insert-bench.ts [rows=10000] [reps=6]
 * Results on the shared 2-core dev machine (other jobs running, so absolute numbers vary by 2x between runs), median
 * ms per 10,000 rows, feature vectors with 10 values and a 32 x 3 window:
 *   bars:            objects via Session.insert 96, JSONEachRow Buffer 93, JSONCompactEachRow Buffer 43
 *   feature vectors: objects via Session.insert 387, JSONEachRow Buffer 425, JSONCompactEachRow Buffer 313
 * Compact rows won in every run (also 65 vs 142/157 and 386 vs 716/442 on a busier run). The object insert also
 * cannot take the quoted nan/inf that carry non-finite doubles inside arrays.
 * RowBinary (row-binary.ts, written to a file and inserted with INSERT ... FROM INFILE: chdb's insert API takes text
 * formats only) beats them all. A later run (each time includes building the body, as above):
 *   bars:            objects 116, JSONEachRow 95, JSONCompactEachRow 64, RowBinary file 34
 *   feature vectors: objects 446, JSONEachRow 418, JSONCompactEachRow 340, RowBinary file 93
 * RowBinary is what ChdbBackend uses (JSONCompactEachRow for a batch it cannot encode exactly);
 * bench/journal-insert.ts measures the journal end to end on a realistic mix.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'chdb';
import type { TopicName } from '../../schemas/topics.ts';
import { INSERT_SETTINGS } from './buffered-journal.ts';
import { loadDdl } from './ddl.ts';
import { BinaryWriter, rowsEncoderFor } from './row-binary.ts';
import { mapRows, type Row } from './rows.ts';
import { JOURNAL_DB, columnsOf, type JournalTable } from './tables.ts';
import { sampleMessages } from './test-messages.ts';

type Insert = (s: Session, table: JournalTable, rows: readonly Row[]) => Promise<unknown>;

const names = (t: JournalTable): string[] => columnsOf(t).map((c) => c.name);
const objects = (t: JournalTable, rows: readonly Row[]): Record<string, unknown>[] =>
  rows.map((r) => Object.fromEntries(names(t).map((n, i) => [n, r[i]])));

const TYPES = new Map<JournalTable, string[]>();

const METHODS: Record<string, Insert> = {
  'objects via Session.insert': (s, t, rows) => s.insert({ table: `${JOURNAL_DB}.${t}`, values: objects(t, rows), columns: names(t) }),
  'JSONEachRow Buffer': (s, t, rows) =>
    s.insert({ table: `${JOURNAL_DB}.${t}`, columns: names(t), format: 'JSONEachRow', settings: INSERT_SETTINGS, values: Buffer.from(objects(t, rows).map((o) => JSON.stringify(o)).join('\n')) }),
  'JSONCompactEachRow Buffer': (s, t, rows) =>
    s.insert({ table: `${JOURNAL_DB}.${t}`, columns: names(t), format: 'JSONCompactEachRow', settings: INSERT_SETTINGS, values: Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n')) }),
  'RowBinary file': (s, t, rows) => {
    const w = new BinaryWriter();
    rowsEncoderFor(TYPES.get(t)!)!(rows, w);
    const file = join(s.path, `${t}.rowbinary`);
    writeFileSync(file, w.bytes());
    return s.queryAsync(`INSERT INTO ${JOURNAL_DB}.${t} (${names(t).join(', ')}) FROM INFILE '${file}' FORMAT RowBinary`);
  },
};

function rowsOf(topic: TopicName, n: number, from: number): Row[] {
  const out: Row[] = [];
  const msgs = Array.from({ length: n }, (_, i) => {
    const m = (sampleMessages(from + i) as Record<string, Record<string, unknown>>)[topic]!;
    // Production-sized vectors: 10 features and a 32 x 3 window.
    if (topic !== 'feat.vectors.v1') return m;
    const k = from + i;
    return { ...m, values: Array.from({ length: 10 }, (_, j) => Math.sin(k + j)), windowLength: 32, windowChannels: 3, window: Array.from({ length: 96 }, (_, j) => Math.cos(k * j)) };
  }) as never[];
  // The object insert cannot take the quoted nan/inf the samples carry: all methods get finite values.
  const finite = (v: unknown): unknown => (Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? 0 : x)) : v);
  mapRows(topic, msgs, (_t, r) => out.push(r.map(finite)));
  return out;
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 10_000);
  const reps = Number(process.argv[3] ?? 6);
  const dir = mkdtempSync(join(tmpdir(), 'qt-insert-bench-'));
  const s = new Session(dir);
  try {
    for (const stmt of loadDdl()) await s.queryAsync(stmt.sql);
    for (const t of ['bars', 'feature_vectors'] as const) {
      const cols = JSON.parse((await s.queryAsync(`SELECT name, type FROM system.columns WHERE database = '${JOURNAL_DB}' AND table = '${t}'`, { format: 'JSON' })).text()) as { data: { name: string; type: string }[] };
      TYPES.set(t, names(t).map((n) => cols.data.find((c) => c.name === n)!.type));
    }
    let from = 0;
    for (const [topic, table] of [['md.bars.1m.v1', 'bars'], ['feat.vectors.v1', 'feature_vectors']] as const) {
      for (const [name, insert] of Object.entries(METHODS)) {
        const times: number[] = [];
        for (let r = 0; r < reps; r++) {
          const rows = rowsOf(topic, n, from);
          from += n;
          const t0 = performance.now();
          await insert(s, table, rows);
          times.push(performance.now() - t0);
        }
        const warm = times.slice(1).sort((a, b) => a - b);
        console.log(`${table.padEnd(16)} ${name.padEnd(28)} median ${warm[warm.length >> 1]!.toFixed(0)} ms per ${n} rows`);
      }
    }
  } finally {
    s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
