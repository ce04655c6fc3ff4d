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
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyDir, REPO_ROOT, schemaHistoryStatus } from '../pipelines/schemas/history.ts';
import { ALL_SCHEMAS } from '../schemas/topics.ts';

// The history and the rule live in pipelines/schemas/history.ts (shared with `qt schemas check`); re-exported for the
// tests and tools that import them from here.
export { historyDir, readHistory } from '../pipelines/schemas/history.ts';

function main(argv: readonly string[]): number {
  const check = argv.includes('--check');
  const allowIncompatible = argv.includes('--allow-incompatible');
  const root = REPO_ROOT;
  let failed = false;
  for (const schema of ALL_SCHEMAS) {
    const dir = historyDir(root, schema.name);
    const status = schemaHistoryStatus(root, schema);
    if (status.state === 'unchanged') {
      console.log(`${schema.name}: unchanged (v${status.versions})`);
      continue;
    }
    const next = status.versions + 1;
    const compat = status.compat;
    for (const p of compat.problems) console.log(`${schema.name}: INCOMPATIBLE ${p}`);
    if (check) {
      console.log(`${schema.name}: changed since v${status.versions}; run scripts/schema-snapshot.ts to record v${next}`);
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
