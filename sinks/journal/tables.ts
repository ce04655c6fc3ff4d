import type { RecordSchema } from '../../schemas/avro.ts';
import { BrainDecisionSchema } from '../../schemas/brain-decision.ts';
import { DeadLetterSchema } from '../../schemas/dead-letter.ts';
import { DATA_TOPIC_SCHEMAS, DATA_TOPICS, isDlqTopic, UnknownTopicError, type DataTopic, type TopicName } from '../../schemas/topics.ts';

/**
 * The journal's tables, described once: which topic fills which table and how each Avro field becomes a column. The
 * row mapping (rows.ts) is compiled from this description; the DDL in deploy/clickhouse is written by hand and a test
 * holds it to the Avro schemas, so neither can drift.
 *
 * Column rules: camelCase -> snake_case; a nested record is flattened with its field name as prefix (`market.atrPct` ->
 * `market_atr_pct`); an array of records is stored either as parallel arrays with that prefix (`members_weight`) or in
 * a child table with one row per element (brain.decisions.v1 `members` -> `decision_members`); a `long` named `ts*` or
 * `*Time` is a time in ms -> DateTime64(3, 'UTC'); `bytes` is inserted as base64 into an EPHEMERAL `<name>_base64`
 * column and stored decoded, as the raw bytes, in `<name>`.
 */

/** The ClickHouse database of the journal. */
export const JOURNAL_DB = 'qt';

/** The table of each data topic. */
export const TOPIC_TABLES = {
  'md.trades.v1': 'trades',
  'md.bars.1m.v1': 'bars',
  'feat.vectors.v1': 'feature_vectors',
  'model.votes.v1': 'model_votes',
  'ens.signals.v1': 'signals',
  'brain.decisions.v1': 'decisions',
  'risk.orders.v1': 'risk_orders',
  'exec.orders.v1': 'orders',
  'exec.fills.v1': 'fills',
  'pos.positions.v1': 'positions',
  'pos.equity.v1': 'equity',
  'exit.events.v1': 'exit_events',
  'model.scores.v1': 'model_scores',
  'ens.supervisor.v1': 'supervisor_events',
  'model.registry.v1': 'registry_events',
  'model.learning.v1': 'learning_events',
  'eval.metrics.v1': 'eval_metrics',
  'pipe.steps.v1': 'pipeline_steps',
} as const satisfies { readonly [K in DataTopic]: string };

/** A journal table name. */
export type JournalTable = (typeof TOPIC_TABLES)[DataTopic] | 'decision_members' | 'dead_letters';

/** Topics added with the ensemble lifecycle; their tables come after dead_letters in the DDL (numbered files). */
const LIFECYCLE_TOPICS: readonly DataTopic[] = ['model.scores.v1', 'ens.supervisor.v1', 'model.registry.v1', 'model.learning.v1', 'eval.metrics.v1', 'pipe.steps.v1'];

/** Every journal table, in DDL order (the order of deploy/clickhouse and of digests). */
export const JOURNAL_TABLES: readonly JournalTable[] = [
  ...DATA_TOPICS.filter((t) => !LIFECYCLE_TOPICS.includes(t)).map((t) => TOPIC_TABLES[t]),
  'decision_members',
  'dead_letters',
  ...LIFECYCLE_TOPICS.map((t) => TOPIC_TABLES[t]),
];

/** The table a topic's messages go to (every `.dlq` topic goes to `dead_letters`); UnknownTopicError for a name that is not a topic. */
export function tableOf(topic: TopicName): JournalTable {
  if (isDlqTopic(topic)) return 'dead_letters';
  const t = (TOPIC_TABLES as Record<string, JournalTable | undefined>)[topic];
  if (!t) throw new UnknownTopicError(topic, 'journal table');
  return t;
}

/** What a column holds, which fixes its ClickHouse type (see `CLICKHOUSE_TYPES`). */
export type ColumnKind = 'string' | 'enum' | 'long' | 'time' | 'int' | 'double' | 'boolean' | 'base64' | 'index' | 'topic';

/** One insertable column of a journal table. */
export interface JournalColumn {
  /** snake_case column name. */
  readonly name: string;
  readonly kind: ColumnKind;
  readonly nullable: boolean;
  /** True for Array(...) columns (an Avro array, or one field of an array of records stored as parallel arrays). */
  readonly array: boolean;
  /** Where the value comes from: the Avro field path (`market.atrPct`, `members[].weight`), or `$...` for derived values. */
  readonly source: string;
}

/** Base ClickHouse types accepted for each kind (before Nullable/LowCardinality/Array wrapping). */
export const CLICKHOUSE_TYPES: { readonly [K in ColumnKind]: readonly string[] } = {
  string: ['String', 'LowCardinality(String)'],
  enum: ['LowCardinality(String)'],
  long: ['Int64'],
  time: ["DateTime64(3, 'UTC')"],
  int: ['Int32'],
  double: ['Float64'],
  boolean: ['Bool'],
  base64: ['String'],
  index: ['UInt16'],
  topic: ['LowCardinality(String)'],
};

/** How an array of records inside a message is stored. */
export interface ChildTable {
  /** The array-of-records field of the parent message. */
  readonly field: string;
  readonly table: JournalTable;
  /** Columns copied from the parent, as [column, parent field]; the first one is the parent's id. */
  readonly parentColumns: readonly (readonly [string, string])[];
  /** Column holding the element's position in the array. */
  readonly indexColumn: string;
}

/** The description of one table filled from one schema. */
export interface TableSpec {
  readonly table: JournalTable;
  readonly schema: RecordSchema<unknown>;
  /** Arrays of records stored as parallel `<field>_<member>` arrays in this table. */
  readonly parallelArrays: readonly string[];
  readonly child?: ChildTable;
  /** Derived leading columns not in the schema (documented in the DDL). */
  readonly derived: readonly JournalColumn[];
  /** The expected ORDER BY key: it ends in the row's identity, so re-inserting an event replaces it under FINAL. */
  readonly orderBy: readonly string[];
}

const INSTRUMENT_KEY = ['exchange', 'symbol', 'ts_event', 'id'] as const;

/** The tables filled directly from a topic (decision_members is the child of decisions). */
export const TABLE_SPECS: readonly TableSpec[] = [
  ...DATA_TOPICS.map((topic): TableSpec => {
    const table = TOPIC_TABLES[topic];
    const base = { table, schema: DATA_TOPIC_SCHEMAS[topic] as RecordSchema<unknown>, parallelArrays: [], derived: [], orderBy: INSTRUMENT_KEY };
    if (topic === 'pos.equity.v1') return { ...base, orderBy: ['account', 'ts_event', 'id'] };
    if (topic === 'ens.supervisor.v1') return { ...base, orderBy: ['scope', 'check', 'ts_event', 'id'] };
    if (topic === 'model.registry.v1') return { ...base, orderBy: ['member', 'ts_event', 'seq', 'id'] };
    if (topic === 'model.learning.v1') return { ...base, orderBy: ['member', 'ts_event', 'id'] };
    if (topic === 'eval.metrics.v1') return { ...base, orderBy: ['run_id', 'scope', 'exchange', 'symbol', 'month', 'fold', 'ts_event', 'id'] };
    if (topic === 'model.scores.v1') return { ...base, orderBy: ['member', 'exchange', 'symbol', 'ts_event', 'id'] };
    if (topic === 'ens.signals.v1') return { ...base, parallelArrays: ['members'] };
    if (topic === 'pipe.steps.v1') return { ...base, parallelArrays: ['counts'], orderBy: ['stage', 'ts_event', 'step', 'id'] };
    if (topic === 'brain.decisions.v1') {
      return {
        ...base,
        child: {
          field: 'members',
          table: 'decision_members',
          parentColumns: [
            ['decision_id', 'id'],
            ['ts_event', 'tsEvent'],
            ['ts_init', 'tsInit'],
            ['exchange', 'exchange'],
            ['symbol', 'symbol'],
            ['outcome', 'outcome'],
            ['side', 'side'],
          ],
          indexColumn: 'idx',
        },
      };
    }
    return base;
  }),
  {
    table: 'dead_letters',
    schema: DeadLetterSchema as RecordSchema<unknown>,
    parallelArrays: [],
    derived: [{ name: 'dlq_topic', kind: 'topic', nullable: false, array: false, source: '$topic' }],
    orderBy: ['dlq_topic', 'ts_event', 'id'],
  },
];

/** The expected ORDER BY of decision_members: the decision's instrument and time, then the row identity. */
export const DECISION_MEMBERS_ORDER_BY = ['exchange', 'symbol', 'ts_event', 'decision_id', 'idx'] as const;

/** camelCase -> snake_case (`avgEntry` -> `avg_entry`, `pDown` -> `p_down`). */
export function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

type AvroNode = unknown;
/** Named types by full and short name, for the references avro.ts writes on a type's second use. */
type Named = Map<string, AvroNode>;

function collectNamed(node: AvroNode, ns: string, named: Named): void {
  if (Array.isArray(node)) {
    for (const n of node) collectNamed(n, ns, named);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const o = node as { type?: unknown; name?: unknown; items?: unknown; values?: unknown; fields?: { type: unknown }[] };
  if (o.type === 'array') return collectNamed(o.items, ns, named);
  if (o.type === 'map') return collectNamed(o.values, ns, named);
  if (typeof o.name === 'string') {
    const dotted = o.name.includes('.');
    const space = dotted ? o.name.slice(0, o.name.lastIndexOf('.')) : ns;
    named.set(dotted || !space ? o.name : `${space}.${o.name}`, node);
    named.set(o.name.slice(o.name.lastIndexOf('.') + 1), node);
    for (const f of o.fields ?? []) collectNamed(f.type, space, named);
  }
}

function resolve(node: AvroNode, named: Named): AvroNode {
  if (typeof node !== 'string' || PRIMITIVES.has(node)) return node;
  const hit = named.get(node) ?? named.get(node.slice(node.lastIndexOf('.') + 1));
  if (hit === undefined) throw new Error(`unresolved Avro type ${node}`);
  return hit;
}

const PRIMITIVES = new Set(['string', 'long', 'int', 'double', 'boolean', 'bytes', 'null']);

/** A leaf of an Avro record: where it is and what it holds. */
export interface AvroLeaf {
  /** Field path, e.g. `market.atrPct`. */
  readonly path: readonly string[];
  readonly kind: ColumnKind;
  readonly nullable: boolean;
  readonly array: boolean;
  /** For an array of records: the leaves of one element (stored as parallel arrays or in a child table). */
  readonly elements?: readonly AvroLeaf[];
}

/** The leaves of a record schema, nested records flattened, in field order. */
export function avroLeaves(schema: RecordSchema<unknown>): AvroLeaf[] {
  const named: Named = new Map();
  collectNamed(schema.avro, '', named);
  return leavesOf(schema.avro, [], named);
}

function leavesOf(rec: { fields: { name: string; type: unknown }[] }, prefix: readonly string[], named: Named): AvroLeaf[] {
  const out: AvroLeaf[] = [];
  for (const f of rec.fields) {
    const path = [...prefix, f.name];
    let t = resolve(f.type, named);
    let nullable = false;
    if (Array.isArray(t)) {
      const rest = t.filter((x) => x !== 'null');
      if (rest.length !== 1 || t.length !== 2) throw new Error(`unsupported union at ${path.join('.')}`);
      nullable = true;
      t = resolve(rest[0], named);
    }
    let array = false;
    if (typeof t === 'object' && t !== null && (t as { type: unknown }).type === 'array') {
      array = true;
      t = resolve((t as { items: unknown }).items, named);
    }
    const o = t as { type?: unknown };
    if (typeof t === 'object' && t !== null && o.type === 'record') {
      const r = t as { type: 'record'; fields: { name: string; type: unknown }[] };
      if (array) out.push({ path, kind: 'string', nullable, array, elements: leavesOf(r, [], named) });
      else out.push(...leavesOf(r, path, named));
      continue;
    }
    out.push({ path, kind: kindOf(t, f.name, path), nullable, array });
  }
  return out;
}

function kindOf(t: unknown, name: string, path: readonly string[]): ColumnKind {
  if (typeof t === 'object' && t !== null && (t as { type: unknown }).type === 'enum') return 'enum';
  switch (t) {
    case 'string':
      return 'string';
    case 'long':
      return /^ts[A-Z]/.test(name) || name.endsWith('Time') ? 'time' : 'long';
    case 'int':
      return 'int';
    case 'double':
      return 'double';
    case 'boolean':
      return 'boolean';
    case 'bytes':
      return 'base64';
    default:
      throw new Error(`unsupported Avro type at ${path.join('.')}: ${JSON.stringify(t)}`);
  }
}

/** The insertable columns of a table, in insert order. */
export function columnsOf(table: JournalTable): readonly JournalColumn[] {
  const hit = columnCache.get(table);
  if (hit) return hit;
  const cols = table === 'decision_members' ? childColumns() : ownColumns(specOf(table));
  columnCache.set(table, cols);
  return cols;
}

const columnCache = new Map<JournalTable, readonly JournalColumn[]>();

/** The spec of a table filled directly from a topic. */
export function specOf(table: JournalTable): TableSpec {
  const s = TABLE_SPECS.find((x) => x.table === table);
  if (!s) throw new Error(`${table} is not filled directly from a topic`);
  return s;
}

function ownColumns(spec: TableSpec): JournalColumn[] {
  const cols: JournalColumn[] = [...spec.derived];
  for (const leaf of avroLeaves(spec.schema)) {
    const name = leaf.path.map(snakeCase).join('_');
    const field = leaf.path.join('.');
    if (leaf.elements) {
      if (spec.child?.field === field) continue;
      if (!spec.parallelArrays.includes(field)) throw new Error(`${spec.table}: array of records ${field} has no storage rule`);
      for (const sub of leaf.elements) {
        if (sub.array || sub.elements) throw new Error(`${spec.table}: nested arrays in ${field} are not supported`);
        cols.push({ name: `${name}_${sub.path.map(snakeCase).join('_')}`, kind: sub.kind, nullable: sub.nullable, array: true, source: `${field}[].${sub.path.join('.')}` });
      }
      continue;
    }
    if (leaf.kind === 'base64') cols.push({ name: `${name}_base64`, kind: 'base64', nullable: leaf.nullable, array: leaf.array, source: field });
    else cols.push({ name, kind: leaf.kind, nullable: leaf.nullable, array: leaf.array, source: field });
  }
  return cols;
}

function childColumns(): JournalColumn[] {
  const parent = specOf('decisions');
  const child = parent.child!;
  const leaves = avroLeaves(BrainDecisionSchema as RecordSchema<unknown>);
  const cols: JournalColumn[] = child.parentColumns.map(([name, from]) => {
    const leaf = leaves.find((l) => l.path.join('.') === from);
    if (!leaf || leaf.elements) throw new Error(`decision_members: no scalar parent field ${from}`);
    return { name, kind: leaf.kind, nullable: leaf.nullable, array: leaf.array, source: `$parent.${from}` };
  });
  cols.push({ name: child.indexColumn, kind: 'index', nullable: false, array: false, source: '$index' });
  const members = leaves.find((l) => l.path.join('.') === child.field)?.elements;
  if (!members) throw new Error(`decision_members: ${child.field} is not an array of records`);
  for (const sub of members) {
    if (sub.array || sub.elements) throw new Error(`decision_members: nested arrays in ${child.field} are not supported`);
    cols.push({ name: sub.path.map(snakeCase).join('_'), kind: sub.kind, nullable: sub.nullable, array: sub.array, source: `${child.field}[].${sub.path.join('.')}` });
  }
  return cols;
}
