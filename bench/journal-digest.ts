/**
 * Prints the digest of an embedded journal folder (sinks/journal/digest.ts), one line per table, to compare two runs:
 *   node --import tsx bench/journal-digest.ts <journal folder>
 */
import { ChdbJournal } from '../sinks/journal/chdb-journal.ts';
import { journalDigest } from '../sinks/journal/digest.ts';

const path = process.argv[2];
if (!path) throw new Error('usage: bench/journal-digest.ts <journal folder>');
const journal = new ChdbJournal({ path });
try {
  await journal.init();
  for (const [table, d] of Object.entries(await journalDigest(journal))) console.log(`${table.padEnd(17)} ${String(d.rows).padStart(8)} ${d.hash}`);
} finally {
  await journal.close();
}
