/**
 * Prints the contents of a journal folder as JSON: per table, the cityHash64 of every row under FINAL (sorted; for
 * pipeline_steps, of each stage's step as the union of its replicas' marks), and
 * how many clientOrderIds of qt.orders were submitted more than once, and each dead letter's source and reason. Run as its own process (embedded ClickHouse
 * opens one data folder per process): `node --import tsx test/kafka/journal-rows.ts <journal dir>`.
 */
import { loadConfig } from '../../pipelines/config.ts';
import { openJournal } from '../../sinks/journal/open.ts';
import { JOURNAL_DB, JOURNAL_TABLES } from '../../sinks/journal/tables.ts';

const dir = process.argv[2];
if (!dir) throw new Error('usage: journal-rows.ts <journal dir>');
const journal = await openJournal(loadConfig({ flags: { journal: { path: dir } } }).journal);
const tables: Record<string, string[]> = {};
// The marks of a stage run as several replicas are one row per replica, with its own id; a step is compared as the
// union of its marks: what was marked, part by part, whichever replica marked it.
const STEPS_BY_STAGE_AND_STEP = `SELECT hex(cityHash64(stage, step, arraySort(groupUniqArray(prev_step)), arraySort(groupUniqArray(clock)), arraySort(groupUniqArray(last)), arraySort(groupUniqArray(parts_of)),
  arraySort(groupArrayArray(parts)),
  arraySort(groupArrayArray(arrayMap((p, t, q, n) -> (p, t, q, n), counts_part, counts_topic, counts_partition, counts_records))))) AS h
  FROM ${JOURNAL_DB}.pipeline_steps FINAL GROUP BY stage, step`;
for (const table of JOURNAL_TABLES) {
  const sql = table === 'pipeline_steps' ? STEPS_BY_STAGE_AND_STEP : `SELECT hex(cityHash64(*)) AS h FROM ${JOURNAL_DB}.${table} FINAL`;
  const rows = await journal.query<{ h: string }>(sql);
  tables[table] = rows.map((r) => r.h).sort();
}
// An order placed twice shows as two SUBMITTED events (with different ids) of one clientOrderId.
const duplicateOrders = await journal.query<{ client_order_id: string; n: number }>(
  `SELECT client_order_id, count() AS n FROM ${JOURNAL_DB}.orders FINAL WHERE status = 'SUBMITTED' GROUP BY client_order_id HAVING n > 1`,
);
const deadLetters = await journal.query<{ source_topic: string; partition: number; offset: number; reason: string }>(
  `SELECT source_topic, partition, offset, reason FROM ${JOURNAL_DB}.dead_letters FINAL ORDER BY source_topic, partition, offset, reason`,
);
await journal.close();
process.stdout.write(JSON.stringify({ tables, duplicateOrders: duplicateOrders.length, deadLetters: deadLetters.map((d) => `${d.source_topic}[${d.partition}]@${d.offset}:${d.reason}`) }));
