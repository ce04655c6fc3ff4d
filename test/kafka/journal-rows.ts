/**
 * Prints the contents of a journal folder as JSON: per table, the cityHash64 of every row under FINAL (sorted), and
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
for (const table of JOURNAL_TABLES) {
  const rows = await journal.query<{ h: string }>(`SELECT hex(cityHash64(*)) AS h FROM ${JOURNAL_DB}.${table} FINAL`);
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
