/**
 * Records the released versions of every message schema in schemas/history/<full name>/v<N>.avsc.json.
 *
 *   node --import tsx scripts/schema-snapshot.ts            append a version for each schema whose Avro JSON changed
 *   node --import tsx scripts/schema-snapshot.ts --check    write nothing; exit 1 if a schema changed or is incompatible
 *   ... --allow-incompatible                                append even when the compatibility rule fails (a new topic
 *                                                           version `.v<N+1>` is the right fix instead, nearly always)
 *
 * A new version is appended only when the current JSON differs from the latest stored one and it passes the project's
 * rule (full compatibility with the latest version, backward with all): see schemas/compat.ts.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { checkAgainstHistory } from '../schemas/compat.ts';
import { ALL_SCHEMAS } from '../schemas/topics.ts';

/** Where the versions of the schema with this full name are stored. */
export function historyDir(root: string, fullName: string): string {
  return join(root, 'schemas', 'history', fullName);
}

/** The stored versions of one schema, oldest first (v1, v2, ...). */
export function readHistory(dir: string): unknown[] {
  if (!existsSync(dir)) return [];
  const versions = readdirSync(dir)
    .map((f) => /^v([1-9][0-9]*)\.avsc\.json$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  versions.forEach((v, i) => {
    if (v !== i + 1) throw new Error(`${dir}: versions must be v1..vN without gaps, found v${v} at position ${i + 1}`);
  });
  return versions.map((v) => JSON.parse(readFileSync(join(dir, `v${v}.avsc.json`), 'utf8')) as unknown);
}

function main(argv: readonly string[]): number {
  const check = argv.includes('--check');
  const allowIncompatible = argv.includes('--allow-incompatible');
  const root = join(import.meta.dirname, '..');
  let failed = false;
  for (const schema of ALL_SCHEMAS) {
    const dir = historyDir(root, schema.name);
    const history = readHistory(dir);
    const latest = history.at(-1);
    if (latest !== undefined && JSON.stringify(latest) === JSON.stringify(schema.avro)) {
      console.log(`${schema.name}: unchanged (v${history.length})`);
      continue;
    }
    const next = history.length + 1;
    const compat = checkAgainstHistory(history, schema.avro);
    for (const p of compat.problems) console.log(`${schema.name}: INCOMPATIBLE ${p}`);
    if (check) {
      console.log(`${schema.name}: changed since v${history.length}; run scripts/schema-snapshot.ts to record v${next}`);
      failed = true;
      continue;
    }
    if (!compat.ok && !allowIncompatible) {
      console.log(`${schema.name}: not recorded (incompatible); bump the topic version or pass --allow-incompatible`);
      failed = true;
      continue;
    }
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `v${next}.avsc.json`), `${JSON.stringify(schema.avro, null, 2)}\n`);
    console.log(`${schema.name}: wrote v${next}`);
  }
  return failed ? 1 : 0;
}

if (process.argv[1] && import.meta.filename === process.argv[1]) process.exitCode = main(process.argv.slice(2));
