/** A column to render: its name and, when known, its ClickHouse type (numeric types are right-aligned). */
export interface TableColumn {
  readonly name: string;
  readonly type?: string;
}

/** Rendering limits. */
export interface FormatTableOptions {
  /** Longest cell, in characters; longer cells end in `…`. Default 48. */
  readonly maxCellWidth?: number;
  /** Most rows rendered; the footer says how many there were. Default 1000. */
  readonly maxRows?: number;
}

const NUMERIC_TYPE = /^(?:(?:Nullable|LowCardinality)\()*(?:U?Int\d+|Float\d+|Decimal)/;

/** Renders a scalar or an array the way ClickHouse writes it in text: nan/inf for non-finite numbers, NULL for null. */
function render(v: unknown, nested = false): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number') {
    if (Number.isFinite(v)) return String(v);
    return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
  }
  if (typeof v === 'string') return nested ? `'${escape(v).replace(/'/g, "\\'")}'` : escape(v);
  if (typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map((x) => render(x, true)).join(',')}]`;
  return escape(JSON.stringify(v));
}

/** Control characters would break the table's lines: shown as escapes. */
function escape(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    if (c === '\r') return '\\r';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

function truncate(s: string, max: number): string {
  const chars = Array.from(s);
  return chars.length <= max ? s : `${chars.slice(0, Math.max(1, max - 1)).join('')}…`;
}

function width(s: string): number {
  return Array.from(s).length;
}

function pad(s: string, w: number, right: boolean): string {
  const fill = ' '.repeat(Math.max(0, w - width(s)));
  return right ? fill + s : s + fill;
}

/**
 * Renders query results as an aligned text table (psql style): a header, a rule, one line per row with numbers
 * right-aligned, control characters escaped, long cells truncated with `…`, and a row-count footer.
 */
export function formatTable(rows: readonly Record<string, unknown>[], columns: readonly (string | TableColumn)[], opts: FormatTableOptions = {}): string {
  const maxCell = Math.max(2, opts.maxCellWidth ?? 48);
  const maxRows = Math.max(0, opts.maxRows ?? 1000);
  const cols = columns.map((c) => (typeof c === 'string' ? { name: c } : c));
  const shown = rows.slice(0, maxRows);
  const cells = shown.map((r) => cols.map((c) => truncate(render(r[c.name]), maxCell)));
  const isNum = (v: unknown): boolean => typeof v === 'number' || typeof v === 'bigint';
  const isNull = (v: unknown): boolean => v === null || v === undefined;
  // Without a type, a column is numeric when every non-null value shown is a number.
  const numeric = cols.map((c) =>
    c.type !== undefined ? NUMERIC_TYPE.test(c.type) : shown.some((r) => isNum(r[c.name])) && shown.every((r) => isNull(r[c.name]) || isNum(r[c.name])),
  );
  const headers = cols.map((c) => truncate(escape(c.name), maxCell));
  const widths = cols.map((_, j) => Math.max(width(headers[j]!), ...cells.map((row) => width(row[j]!))));
  const line = (vals: readonly string[]): string => vals.map((v, j) => ` ${pad(v, widths[j]!, numeric[j]!)} `).join('|').replace(/\s+$/, '');
  const out: string[] = [];
  if (cols.length > 0) {
    out.push(line(headers));
    out.push(widths.map((w) => '-'.repeat(w + 2)).join('+'));
    for (const row of cells) out.push(line(row));
  }
  const n = rows.length;
  const count = `(${n} ${n === 1 ? 'row' : 'rows'}${n > shown.length ? `, first ${shown.length} shown` : ''})`;
  out.push(count);
  return out.join('\n');
}
