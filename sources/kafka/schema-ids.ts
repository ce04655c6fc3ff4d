import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_SCHEMAS, schemaOf, type TopicName } from '../../schemas/topics.ts';
import { SchemaNotReleasedError, UnknownSchemaIdError } from './errors.ts';

/** Where schema ids come from: the project's own list (no registry) or a Confluent schema registry. */
export interface SchemaIds {
  /** The id under which values of the topic are written: its schema's current (latest released) version. */
  writerId(topic: TopicName): Promise<number>;
  /** The Avro schema (JSON) written under an id; rejects with UnknownSchemaIdError, or a retriable error if it cannot look. */
  writerSchema(id: number): Promise<unknown>;
}

/**
 * Schema ids without a registry, written down once: every record type has a number, never changed or reused (a new
 * record type takes the next free one), and version N of it has the id `number * 1000 + N`, the versions being those
 * of schemas/history/<full name>/vN.avsc.json. So an id means the same schema in every process and every release, and
 * a reader knows every older version by id and reads it with its current schema (Avro schema resolution): a rolling
 * upgrade works without a registry.
 */
export const SCHEMA_NUMBERS: Readonly<Record<string, number>> = Object.freeze({
  'qt.md.Trade': 1,
  'qt.md.Bar': 2,
  'qt.feat.FeatureVector': 3,
  'qt.model.ModelVote': 4,
  'qt.ens.EnsembleSignal': 5,
  'qt.brain.BrainDecision': 6,
  'qt.risk.RiskOrder': 7,
  'qt.exec.OrderEvent': 8,
  'qt.exec.Fill': 9,
  'qt.pos.Position': 10,
  'qt.pos.Equity': 11,
  'qt.exit.ExitEvent': 12,
  'qt.dlq.DeadLetter': 13,
  'qt.model.MemberScore': 14,
  'qt.ens.SupervisorEvent': 15,
  'qt.model.RegistryEvent': 16,
  'qt.model.LearningEvent': 17,
  'qt.eval.EvalMetric': 18,
  'qt.pipe.StepMark': 19,
});

/** Versions per record type that the id scheme can hold. */
export const MAX_VERSIONS = 999;

/** The registry-less id of version `version` (1-based) of a record type. */
export function localSchemaId(fullName: string, version: number): number {
  const n = SCHEMA_NUMBERS[fullName];
  if (n === undefined) throw new UnknownSchemaIdError(-1, `${fullName} has no number in sources/kafka/schema-ids.ts`);
  if (!Number.isInteger(version) || version < 1 || version > MAX_VERSIONS) throw new RangeError(`version ${version} of ${fullName} is outside 1..${MAX_VERSIONS}`);
  return n * 1000 + version;
}

/** One released version of a record type. */
export interface ReleasedSchema {
  readonly id: number;
  readonly name: string;
  readonly version: number;
  readonly avro: unknown;
}

/** The default schemas/history folder of this checkout. */
export const HISTORY_DIR = join(import.meta.dirname, '..', '..', 'schemas', 'history');

/** Every released version of every numbered record type, read from schemas/history (v1..vN of each, no gaps). */
export function releasedSchemas(historyDir = HISTORY_DIR): readonly ReleasedSchema[] {
  const out: ReleasedSchema[] = [];
  for (const name of Object.keys(SCHEMA_NUMBERS)) {
    const dir = join(historyDir, name);
    if (!existsSync(dir)) continue;
    const versions = readdirSync(dir)
      .map((f) => /^v([1-9][0-9]*)\.avsc\.json$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    versions.forEach((v, i) => {
      if (v !== i + 1) throw new Error(`${dir}: versions must be v1..vN without gaps, found v${v} at position ${i + 1}`);
    });
    for (const version of versions) {
      const avro = JSON.parse(readFileSync(join(dir, `v${version}.avsc.json`), 'utf8')) as unknown;
      out.push(Object.freeze({ id: localSchemaId(name, version), name, version, avro }));
    }
  }
  return Object.freeze(out);
}

/** Schema ids from the project's own list (SCHEMA_NUMBERS and schemas/history): no registry, no I/O after construction. */
export class LocalSchemaIds implements SchemaIds {
  private readonly byId = new Map<number, ReleasedSchema>();
  private readonly latest = new Map<string, ReleasedSchema>();

  constructor(historyDir = HISTORY_DIR) {
    for (const s of releasedSchemas(historyDir)) {
      this.byId.set(s.id, s);
      const l = this.latest.get(s.name);
      if (!l || l.version < s.version) this.latest.set(s.name, s);
    }
  }

  /** The current schema's id; SchemaNotReleasedError when the code's schema is not its latest released version. */
  writerIdSync(topic: TopicName): number {
    const schema = schemaOf(topic);
    const latest = this.latest.get(schema.name);
    if (!latest || JSON.stringify(latest.avro) !== JSON.stringify(schema.avro)) {
      throw new SchemaNotReleasedError(schema.name, latest?.version ?? 0);
    }
    return latest.id;
  }

  /** See SchemaIds.writerId. */
  async writerId(topic: TopicName): Promise<number> {
    return this.writerIdSync(topic);
  }

  /** The released schema of an id, or undefined. */
  released(id: number): ReleasedSchema | undefined {
    return this.byId.get(id);
  }

  /** See SchemaIds.writerSchema. */
  async writerSchema(id: number): Promise<unknown> {
    const s = this.byId.get(id);
    if (!s) throw new UnknownSchemaIdError(id, 'not in schemas/history');
    return s.avro;
  }

  /** Every record type of the code (ALL_SCHEMAS) with its current id; throws for the first one not released. */
  currentIds(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of ALL_SCHEMAS) {
      const latest = this.latest.get(s.name);
      if (!latest || JSON.stringify(latest.avro) !== JSON.stringify(s.avro)) throw new SchemaNotReleasedError(s.name, latest?.version ?? 0);
      out[s.name] = latest.id;
    }
    return out;
  }
}
