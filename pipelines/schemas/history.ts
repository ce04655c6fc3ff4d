/**
 * The released versions of every message schema, schemas/history/<full name>/v<N>.avsc.json, and the project's rule
 * against them (schemas/compat.ts: full compatibility with the latest version, backward with every one). Shared by
 * scripts/schema-snapshot.ts (which records versions) and `qt schemas check`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RecordSchema } from '../../schemas/avro.ts';
import { checkAgainstHistory, type CompatibilityReport } from '../../schemas/compat.ts';

/** The repository root (where schemas/history lives). */
export const REPO_ROOT = join(import.meta.dirname, '..', '..');

/** The schema history folder holds versions that are not v1..vN without gaps. */
export class SchemaHistoryError extends Error {
  override readonly name = 'SchemaHistoryError';
  readonly retriable = false;
  constructor(
    readonly dir: string,
    detail: string,
  ) {
    super(`${dir}: ${detail}`);
  }
}

/** Where the versions of the schema with this full name are stored. */
export function historyDir(root: string, fullName: string): string {
  return join(root, 'schemas', 'history', fullName);
}

/** The stored versions of one schema, oldest first (v1, v2, ...); SchemaHistoryError for a gap. */
export function readHistory(dir: string): unknown[] {
  if (!existsSync(dir)) return [];
  const versions = readdirSync(dir)
    .map((f) => /^v([1-9][0-9]*)\.avsc\.json$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  versions.forEach((v, i) => {
    if (v !== i + 1) throw new SchemaHistoryError(dir, `versions must be v1..vN without gaps, found v${v} at position ${i + 1}`);
  });
  return versions.map((v) => JSON.parse(readFileSync(join(dir, `v${v}.avsc.json`), 'utf8')) as unknown);
}

/** One schema against its history. */
export interface SchemaHistoryStatus {
  /** Full name of the record, e.g. qt.md.Trade. */
  readonly name: string;
  /** Versions recorded so far. */
  readonly versions: number;
  /** unchanged: equal to the latest version; changed: differs from it (not recorded yet); new: no version recorded. */
  readonly state: 'unchanged' | 'changed' | 'new';
  /** The rule's verdict against every recorded version (ok for an unchanged or new schema). */
  readonly compat: CompatibilityReport;
}

/** Compares one schema with its recorded versions under `root` (the rule of scripts/schema-snapshot.ts). */
export function schemaHistoryStatus(root: string, schema: RecordSchema<unknown>): SchemaHistoryStatus {
  const history = readHistory(historyDir(root, schema.name));
  const latest = history.at(-1);
  if (latest !== undefined && JSON.stringify(latest) === JSON.stringify(schema.avro)) {
    return { name: schema.name, versions: history.length, state: 'unchanged', compat: { ok: true, problems: [] } };
  }
  return {
    name: schema.name,
    versions: history.length,
    state: history.length === 0 ? 'new' : 'changed',
    compat: checkAgainstHistory(history, schema.avro),
  };
}
