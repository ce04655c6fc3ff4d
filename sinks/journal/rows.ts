import { EncodeError } from '../../schemas/codec.ts';
import type { TopicName, Topics } from '../../schemas/topics.ts';
import { columnsOf, specOf, tableOf, type JournalColumn, type JournalTable } from './tables.ts';

/**
 * Row mapping: each topic's message to its table row(s), as positional arrays in the order of `columnsOf(table)`
 * (inserted as JSONCompactEachRow with an explicit column list). Pure and allocation-light: one array per row.
 *
 * Values are JSON-ready: times stay ms numbers (ClickHouse reads an integer as ms for DateTime64(3)); a non-finite
 * double becomes the string `nan`, `inf` or `-inf`, which ClickHouse parses into Float64 (JSON has no NaN, and a null
 * would silently become 0); bytes become base64 for the EPHEMERAL `<name>_base64` column.
 */

/** A row: column values in the order of `columnsOf(table)`. */
export type Row = unknown[];

/** Receives mapped rows. */
export type RowSink = (table: JournalTable, row: Row) => void;

type Getter = (m: Record<string, unknown>, topic: string) => unknown;

interface TopicMapping {
  readonly table: JournalTable;
  readonly row: (m: Record<string, unknown>, topic: string) => Row;
  readonly child?: { readonly table: JournalTable; readonly rows: (m: Record<string, unknown>) => Row[] };
}

/** A double as JSON: non-finite values as the strings ClickHouse reads into Float64. */
export function jsonDouble(x: number): number | string {
  if (Number.isFinite(x)) return x;
  if (Number.isNaN(x)) return 'nan';
  return x > 0 ? 'inf' : '-inf';
}

function jsonDoubles(xs: readonly number[]): readonly (number | string)[] {
  for (const x of xs) if (!Number.isFinite(x)) return xs.map(jsonDouble);
  return xs;
}

/** Base64 of a bytes field; EncodeError (the message does not match its schema) for anything else. */
function base64Of(schema: string, field: string): (v: unknown) => string {
  return (v) => {
    if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
    throw new EncodeError(schema, [`${field} (bytes expected, got ${v === null ? 'null' : typeof v})`]);
  };
}

function path(source: string): string[] {
  return source.split('.');
}

function read(m: Record<string, unknown>, keys: readonly string[]): unknown {
  let v: unknown = m;
  for (const k of keys) v = (v as Record<string, unknown>)[k];
  return v;
}

function convert(col: JournalColumn, schema: string): (v: unknown) => unknown {
  if (col.kind === 'double') {
    if (col.array) return (v) => jsonDoubles(v as number[]);
    return col.nullable ? (v) => (v === null ? null : jsonDouble(v as number)) : (v) => jsonDouble(v as number);
  }
  if (col.kind === 'base64') {
    const base64 = base64Of(schema, col.source);
    return col.nullable ? (v) => (v === null ? null : base64(v)) : base64;
  }
  return (v) => v;
}

/** Getter of a column of the message's own table. */
function ownGetter(col: JournalColumn, schema: string): Getter {
  if (col.source === '$topic') return (_m, topic) => topic;
  const conv = convert(col, schema);
  const arr = col.source.indexOf('[].');
  if (arr >= 0) {
    // One field of an array of records, stored as a parallel array.
    const outer = path(col.source.slice(0, arr));
    const inner = path(col.source.slice(arr + 3));
    const one = convert({ ...col, array: false }, schema);
    return (m) => (read(m, outer) as Record<string, unknown>[]).map((e) => one(read(e, inner)));
  }
  const keys = path(col.source);
  if (keys.length === 1) {
    const k = keys[0]!;
    return (m) => conv(m[k]);
  }
  return (m) => conv(read(m, keys));
}

function compileRow(getters: readonly Getter[]): (m: Record<string, unknown>, topic: string) => Row {
  const n = getters.length;
  return (m, topic) => {
    const row: Row = new Array(n);
    for (let i = 0; i < n; i++) row[i] = getters[i]!(m, topic);
    return row;
  };
}

function compileChild(table: JournalTable, field: string, schema: string): (m: Record<string, unknown>) => Row[] {
  const cols = columnsOf(table);
  type ElemGetter = (parent: Record<string, unknown>, e: Record<string, unknown>, i: number) => unknown;
  const getters: ElemGetter[] = cols.map((c): ElemGetter => {
    const conv = convert(c, schema);
    if (c.source === '$index') return (_p, _e, i) => i;
    if (c.source.startsWith('$parent.')) {
      const keys = path(c.source.slice('$parent.'.length));
      return (p) => conv(read(p, keys));
    }
    const keys = path(c.source.slice(c.source.indexOf('[].') + 3));
    return (_p, e) => conv(read(e, keys));
  });
  return (m) => {
    const elems = m[field] as Record<string, unknown>[];
    const rows: Row[] = new Array(elems.length);
    for (let i = 0; i < elems.length; i++) rows[i] = getters.map((g) => g(m, elems[i]!, i));
    return rows;
  };
}

const mappings = new Map<JournalTable, TopicMapping>();

function mappingOf(topic: TopicName): TopicMapping {
  const table = tableOf(topic);
  let hit = mappings.get(table);
  if (!hit) {
    const spec = specOf(table);
    const schema = spec.schema.name;
    const child = spec.child ? { table: spec.child.table, rows: compileChild(spec.child.table, spec.child.field, schema) } : undefined;
    hit = { table, row: compileRow(columnsOf(table).map((c) => ownGetter(c, schema))), ...(child ? { child } : {}) };
    mappings.set(table, hit);
  }
  return hit;
}

/** Maps messages of one topic to rows, handing each to the sink: the message's row first, then its child rows. */
export function mapRows<T extends TopicName>(topic: T, messages: readonly Topics[T][], sink: RowSink): void {
  const m = mappingOf(topic);
  for (const msg of messages) {
    const rec = msg as unknown as Record<string, unknown>;
    sink(m.table, m.row(rec, topic));
    if (m.child) for (const r of m.child.rows(rec)) sink(m.child.table, r);
  }
}

/** The rows of one message as objects keyed by column, per table (for tests, debugging and one-off inserts). */
export function rowObjects<T extends TopicName>(topic: T, message: Topics[T]): Partial<Record<JournalTable, Record<string, unknown>[]>> {
  const out: Partial<Record<JournalTable, Record<string, unknown>[]>> = {};
  mapRows(topic, [message], (table, row) => {
    const cols = columnsOf(table);
    (out[table] ??= []).push(Object.fromEntries(cols.map((c, i) => [c.name, row[i]])));
  });
  return out;
}
