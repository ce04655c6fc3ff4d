import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeadLetterSchema } from '../../schemas/dead-letter.ts';
import { DATA_TOPIC_SCHEMAS, DATA_TOPICS, type DataTopic } from '../../schemas/topics.ts';
import { ChdbJournal } from './chdb-journal.ts';
import { DDL_DIR, loadDdl, splitStatements } from './ddl.ts';
import { DECISION_MEMBERS_ORDER_BY, JOURNAL_TABLES, TABLE_SPECS, TOPIC_TABLES, columnsOf } from './tables.ts';

describe('splitStatements', () => {
  it('splits at semicolons outside quotes and comments, and drops comment-only pieces', () => {
    const text = [
      '-- a comment; with a semicolon',
      "CREATE TABLE t (a String COMMENT 'x;y', b String COMMENT 'it''s') ENGINE = Memory;",
      '/* block; comment */',
      'SELECT "a;b", `c;d` FROM t ;',
      '-- trailing comment only',
    ].join('\n');
    expect(splitStatements(text)).toEqual([
      "-- a comment; with a semicolon\nCREATE TABLE t (a String COMMENT 'x;y', b String COMMENT 'it''s') ENGINE = Memory",
      '/* block; comment */\nSELECT "a;b", `c;d` FROM t',
    ]);
  });

  it('keeps a last statement without a semicolon and handles backslash escapes', () => {
    expect(splitStatements("SELECT 'a\\';b'")).toEqual(["SELECT 'a\\';b'"]);
    expect(splitStatements('  ;; ')).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------------------
// The DDL against the Avro schemas. The expected columns are derived here, independently of tables.ts, from the rules
// documented in deploy/clickhouse and sinks/journal/tables.ts.

const snake = (s: string): string => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

type AvroField = { name: string; type: unknown };
type Expected = Map<string, string[]>;

function baseTypes(t: unknown, name: string): string[] {
  if (typeof t === 'object' && t !== null && (t as { type: string }).type === 'enum') return ['LowCardinality(String)'];
  if (t === 'string') return ['String', 'LowCardinality(String)'];
  if (t === 'long') return /^ts[A-Z]/.test(name) || name.endsWith('Time') ? ["DateTime64(3, 'UTC')"] : ['Int64'];
  if (t === 'int') return ['Int32'];
  if (t === 'double') return ['Float64'];
  if (t === 'boolean') return ['Bool'];
  throw new Error(`no rule for ${JSON.stringify(t)} at ${name}`);
}

const nsOf = (name: string, outer: string): string => (name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : outer);

const nullableOf = (ty: string): string => (ty.startsWith('LowCardinality(') ? `LowCardinality(Nullable(${ty.slice(15, -1)}))` : `Nullable(${ty})`);

/** Walks an Avro record: every leaf becomes a column; arrays of records go to `onRecords`. */
function walk(
  fields: AvroField[],
  prefix: string,
  ns: string,
  named: Map<string, unknown>,
  out: Expected,
  onRecords: (name: string, r: { name: string; fields: AvroField[] }) => void,
): void {
  for (const f of fields) {
    const name = prefix + snake(f.name);
    const resolve = (t: unknown): unknown => (typeof t === 'string' && named.has(t) ? named.get(t) : t);
    let t = resolve(f.type);
    let nullable = false;
    if (Array.isArray(t)) {
      nullable = true;
      t = resolve(t.find((x) => x !== 'null'));
    }
    const record = (x: unknown): x is { name: string; type: 'record'; fields: AvroField[] } => typeof x === 'object' && x !== null && (x as { type: string }).type === 'record';
    // A named type is defined on first use; later uses refer to it by full name.
    const remember = (x: unknown): void => {
      if (typeof x === 'object' && x !== null && 'name' in x) {
        const n = String((x as { name: string }).name);
        named.set(n.includes('.') ? n : `${ns}.${n}`, x);
      }
    };
    if (typeof t === 'object' && t !== null && (t as { type: string }).type === 'array') {
      const items = resolve((t as { items: unknown }).items);
      remember(items);
      if (record(items)) {
        onRecords(name, items);
        continue;
      }
      out.set(name, baseTypes(items, f.name).map((b) => `Array(${nullable ? nullableOf(b) : b})`));
      continue;
    }
    remember(t);
    if (record(t)) {
      walk(t.fields, `${name}_`, nsOf(t.name, ns), named, out, onRecords);
      continue;
    }
    if (t === 'bytes') {
      // Documented: inserted as base64 into an EPHEMERAL column, stored decoded.
      out.set(`${name}_base64`, ['String EPHEMERAL']);
      out.set(name, ['String DEFAULT']);
      continue;
    }
    out.set(name, baseTypes(t, f.name).map((b) => (nullable ? nullableOf(b) : b)));
  }
}

function expectedColumns(): Map<string, Expected> {
  const tables = new Map<string, Expected>();
  const named = new Map<string, unknown>();
  for (const topic of DATA_TOPICS) {
    const cols: Expected = new Map();
    const schema = DATA_TOPIC_SCHEMAS[topic as DataTopic].avro as { name: string; fields: AvroField[] };
    walk(schema.fields, '', nsOf(schema.name, ''), named, cols, (name, r) => {
      if (topic === 'ens.signals.v1' || topic === 'pipe.steps.v1') {
        // Documented: parallel arrays with the field name as prefix.
        const sub: Expected = new Map();
        walk(r.fields, `${name}_`, nsOf(r.name, ''), named, sub, () => undefined);
        for (const [n, types] of sub) cols.set(n, types.map((ty) => `Array(${ty})`));
      } else if (topic === 'brain.decisions.v1') {
        // Documented: child table decision_members, with derived parent columns and the element index.
        const child: Expected = new Map([
          ['decision_id', ['String']],
          ['ts_event', ["DateTime64(3, 'UTC')"]],
          ['ts_init', ["DateTime64(3, 'UTC')"]],
          ['exchange', ['String', 'LowCardinality(String)']],
          ['symbol', ['String', 'LowCardinality(String)']],
          ['outcome', ['LowCardinality(String)']],
          ['side', ['LowCardinality(Nullable(String))']],
          ['idx', ['UInt16']],
        ]);
        walk(r.fields, '', nsOf(r.name, ''), named, child, () => undefined);
        tables.set('decision_members', child);
      } else throw new Error(`${topic}.${name}: array of records without a documented storage rule`);
    });
    tables.set(TOPIC_TABLES[topic as DataTopic], cols);
  }
  const dlq: Expected = new Map([['dlq_topic', ['LowCardinality(String)']]]);
  walk((DeadLetterSchema.avro as { fields: AvroField[] }).fields, '', nsOf(DeadLetterSchema.name, ''), named, dlq, () => undefined);
  tables.set('dead_letters', dlq);
  return tables;
}

interface SysColumn {
  table: string;
  name: string;
  type: string;
  default_kind: string;
}
interface SysTable {
  name: string;
  engine: string;
  sorting_key: string;
  partition_key: string;
  comment: string;
}

/** qt.pipeline_steps as StepMark v1 created it (before replicas added counts_part, parts and parts_of). */
const PIPELINE_STEPS_V1 = `CREATE TABLE IF NOT EXISTS qt.pipeline_steps
(
    id String, ts_event DateTime64(3, 'UTC'), ts_init DateTime64(3, 'UTC'), stage LowCardinality(String), step Int64,
    prev_step Int64, clock Int64, last Bool, counts_topic Array(LowCardinality(String)), counts_partition Array(Int32),
    counts_records Array(Int32)
)
ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(ts_event) ORDER BY (stage, ts_event, step, id) COMMENT 'pipe.steps.v1: bar steps finished per stage'`;

describe('deploy/clickhouse DDL', () => {
  let dir: string;
  let journal: ChdbJournal;
  let columns: SysColumn[];
  let tables: SysTable[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'qt-ddl-'));
    // A journal created before StepMark v2: the DDL must bring its pipeline_steps table up to date (ALTER ... IF NOT EXISTS).
    const old = new ChdbJournal({ path: dir, ddl: [{ file: 'v1', sql: 'CREATE DATABASE IF NOT EXISTS qt' }, { file: 'v1', sql: PIPELINE_STEPS_V1 }] });
    await old.init();
    await old.close();
    journal = new ChdbJournal({ path: dir });
    await journal.init();
    await journal.init(); // every statement is IF NOT EXISTS: applying twice is harmless
    columns = await journal.query<SysColumn>("SELECT table, name, type, default_kind FROM system.columns WHERE database = 'qt' ORDER BY table, position");
    tables = await journal.query<SysTable>("SELECT name, engine, sorting_key, partition_key, comment FROM system.tables WHERE database = 'qt' ORDER BY name");
  });

  afterAll(async () => {
    await journal?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('has one numbered file per table, in the order of JOURNAL_TABLES, after the database', () => {
    const files = readdirSync(DDL_DIR).filter((f) => f.endsWith('.sql')).sort();
    expect(files).toEqual(['000_database.sql', ...JOURNAL_TABLES.map((t, i) => `${String(i + 1).padStart(3, '0')}_${t}.sql`)]);
    expect([...new Set(loadDdl().map((s) => s.file))]).toEqual(files);
  });

  it('creates exactly the journal tables', () => {
    expect(tables.map((t) => t.name).sort()).toEqual([...JOURNAL_TABLES].sort());
  });

  it('gives every Avro field a column of a matching type, with no column missing or extra', () => {
    const expected = expectedColumns();
    expect([...expected.keys()].sort()).toEqual([...JOURNAL_TABLES].sort());
    for (const [table, cols] of expected) {
      const actual = columns.filter((c) => c.table === table);
      expect(actual.map((c) => c.name).sort(), table).toEqual([...cols.keys()].sort());
      for (const c of actual) {
        const allowed = cols.get(c.name)!;
        const shown = c.default_kind === 'EPHEMERAL' || c.default_kind === 'DEFAULT' ? `${c.type} ${c.default_kind}` : c.type;
        expect(allowed, `${table}.${c.name}`).toContain(shown);
      }
    }
  });

  it('inserts exactly the columns the row mapping produces (stored defaults aside)', () => {
    for (const table of JOURNAL_TABLES) {
      const insertable = columns.filter((c) => c.table === table && c.default_kind !== 'DEFAULT').map((c) => c.name);
      expect(columnsOf(table).map((c) => c.name), table).toEqual(insertable);
    }
  });

  it('makes every table a ReplacingMergeTree by month whose key ends in the row identity, with a comment', () => {
    for (const t of tables) {
      expect(t.engine, t.name).toBe('ReplacingMergeTree');
      expect(t.partition_key, t.name).toBe('toYYYYMM(ts_event)');
      expect(t.comment.length, t.name).toBeGreaterThan(10);
      const key = t.sorting_key.split(', ');
      if (t.name === 'decision_members') expect(key).toEqual([...DECISION_MEMBERS_ORDER_BY]);
      else {
        expect(key.at(-1), t.name).toBe('id');
        expect(key, t.name).toEqual([...TABLE_SPECS.find((s) => s.table === t.name)!.orderBy]);
      }
      expect(key, t.name).toContain('ts_event');
    }
  });
});
