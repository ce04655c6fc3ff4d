import type { Journal } from '../../schemas/ports.ts';
import { hasFormatClause, type QueryResult } from './buffered-journal.ts';
import { formatTable, type FormatTableOptions, type TableColumn } from './format-table.ts';

/** A journal that can also return result columns and raw formatted text (both journals here can). */
interface RichJournal extends Journal {
  queryTable(sql: string): Promise<QueryResult>;
  queryText(sql: string): Promise<string>;
}

function isRich(j: Journal): j is RichJournal {
  return typeof (j as Partial<RichJournal>).queryTable === 'function' && typeof (j as Partial<RichJournal>).queryText === 'function';
}

/** Columns in order of first appearance, for a journal that returns only row objects. */
function columnsFromRows(rows: readonly Record<string, unknown>[]): TableColumn[] {
  const seen = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) seen.add(k);
  return [...seen].map((name) => ({ name }));
}

/**
 * Runs a query for `qt sql` and returns the text to print: an aligned table with a row count, or ClickHouse's own
 * output when the query ends in a FORMAT clause (e.g. `FORMAT CSVWithNames` for export). ClickHouse errors propagate
 * as JournalQueryError with the ClickHouse message.
 */
export async function runSql(journal: Journal, sql: string, opts: FormatTableOptions = {}): Promise<string> {
  if (isRich(journal)) {
    if (hasFormatClause(sql)) return (await journal.queryText(sql)).replace(/\n$/, '');
    const res = await journal.queryTable(sql);
    return formatTable(res.rows, res.columns, opts);
  }
  const rows = await journal.query(sql);
  return formatTable(rows, columnsFromRows(rows), opts);
}
