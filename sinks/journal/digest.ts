import type { Journal } from '../../schemas/ports.ts';
import { JOURNAL_DB, JOURNAL_TABLES, type JournalTable } from './tables.ts';

/** The digest of one table: its row count and a hash of its contents, both under FINAL. */
export interface TableDigest {
  readonly rows: number;
  /** Hex of the sum (mod 2^64) of cityHash64 over every stored column of every row: independent of row order. */
  readonly hash: string;
}

/**
 * A determinism check of the journal: per table (in JOURNAL_TABLES order), the deduplicated row count and a hash of
 * every stored column of every row, read with FINAL after a flush. Two runs that journal byte-identical messages give
 * equal digests; a re-inserted duplicate changes nothing. A sum of row hashes, unlike an XOR, also sees a row twice.
 */
export async function journalDigest(journal: Journal): Promise<Record<JournalTable, TableDigest>> {
  await journal.flush();
  const out = {} as Record<JournalTable, TableDigest>;
  for (const table of JOURNAL_TABLES) {
    const [r] = await journal.query<{ rows: number; hash: string }>(
      `SELECT count() AS rows, hex(sum(cityHash64(*))) AS hash FROM ${JOURNAL_DB}.${table} FINAL`,
    );
    out[table] = { rows: Number(r?.rows ?? 0), hash: r?.hash ?? '' };
  }
  return out;
}
