/** `qt schemas check`: every message schema against its history and, with a registry, against the registered one. */
import { TOPIC_CONFIGS, type TopicConfig } from '../../schemas/topic-config.ts';
import { ALL_SCHEMAS } from '../../schemas/topics.ts';
import type { RecordSchema } from '../../schemas/avro.ts';
import { checkHistory, checkRegistry, type CheckPart } from '../schemas/check.ts';
import { REPO_ROOT } from '../schemas/history.ts';
import { HttpSchemaRegistry, SchemaRegistryError } from '../schemas/registry.ts';
import { formatFlags, parseArgs, type FlagSpec } from './args.ts';
import type { CliIo } from './common.ts';

/** The environment variable holding the schema registry URL until the config schema has a kafka section. */
export const REGISTRY_ENV = 'QT_KAFKA_SCHEMA_REGISTRY_URL';

/** Exit codes of `qt schemas check`. */
export const SCHEMAS_EXIT = Object.freeze({
  /** Every schema keeps the rule (and matches the registry). */
  ok: 0,
  /** An incompatible schema, a change not recorded in schemas/history, or a registry that refuses or fails. */
  problems: 1,
  /** Bad command line. */
  usage: 2,
});

const FLAGS: readonly FlagSpec[] = [
  { name: 'registry', kind: 'string', value: 'url', help: `Confluent schema registry, e.g. http://localhost:8081 (default: $${REGISTRY_ENV}; none: history only)` },
  { name: 'help', kind: 'boolean', help: 'show this help' },
];

/** The help text of `qt schemas`. */
export const SCHEMAS_USAGE = `Usage: qt schemas check [--registry url]

Checks every message schema against its released versions in schemas/history (full compatibility with the latest,
backward with every one; a change not yet recorded fails too, as scripts/schema-snapshot.ts --check does) and, with a
schema registry, against the latest version of each topic's subject <topic>-value (full compatibility, and the
registry's own verdict under the subject's compatibility level). Lists every problem.

${formatFlags(FLAGS)}

Exit codes: ${SCHEMAS_EXIT.ok} all compatible; ${SCHEMAS_EXIT.problems} problems found (listed); ${SCHEMAS_EXIT.usage} usage.
`;

/** What `qt schemas check` reads; tests point it at other schemas or histories. */
export interface SchemasCliDeps {
  /** Folder holding schemas/history (default: the repository). */
  readonly root?: string;
  readonly schemas?: readonly RecordSchema<unknown>[];
  readonly topics?: readonly TopicConfig[];
}

function write(io: CliIo, title: string, part: CheckPart): void {
  io.stdout.write(`${title}\n${part.lines.map((l) => `  ${l.ok ? 'ok  ' : 'FAIL'} ${l.text}`).join('\n')}\n`);
}

/** Runs `qt schemas check`; returns the exit code (SCHEMAS_EXIT). */
export async function schemasCli(argv: readonly string[], io: CliIo, deps: SchemasCliDeps = {}): Promise<number> {
  const [sub, ...rest] = argv;
  const parsed = parseArgs(rest, FLAGS);
  if (sub === undefined || sub === 'help' || sub === '--help' || parsed.own.help === true) {
    (sub === undefined ? io.stderr : io.stdout).write(SCHEMAS_USAGE);
    return sub === undefined ? SCHEMAS_EXIT.usage : SCHEMAS_EXIT.ok;
  }
  const problems = [...parsed.problems];
  if (sub !== 'check') problems.push(`unknown subcommand ${sub} (check)`);
  if (parsed.positionals.length > 0) problems.push(`unexpected arguments: ${parsed.positionals.join(' ')}`);
  const url = (parsed.own.registry as string | undefined) ?? (io.env[REGISTRY_ENV] || undefined);
  let registry: HttpSchemaRegistry | undefined;
  if (url !== undefined) {
    try {
      registry = new HttpSchemaRegistry(url);
    } catch (e) {
      if (!(e instanceof SchemaRegistryError)) throw e;
      problems.push(e.message);
    }
  }
  if (problems.length > 0) {
    io.stderr.write(`qt schemas: ${problems.join('\n  ')}\n\n${SCHEMAS_USAGE}`);
    return SCHEMAS_EXIT.usage;
  }

  const history = checkHistory(deps.root ?? REPO_ROOT, deps.schemas ?? ALL_SCHEMAS);
  write(io, 'schemas/history:', history);
  const all = [...history.problems];
  if (registry) {
    const part = await checkRegistry(registry, deps.topics ?? TOPIC_CONFIGS);
    write(io, `registry ${registry.url}:`, part);
    all.push(...part.problems);
  }
  if (all.length === 0) {
    io.stdout.write(`OK: every schema keeps the rule${registry ? ' and agrees with the registry' : ''}.\n`);
    return SCHEMAS_EXIT.ok;
  }
  io.stdout.write(`${all.length} problem${all.length === 1 ? '' : 's'}:\n${all.map((p) => `  - ${p}`).join('\n')}\n`);
  return SCHEMAS_EXIT.problems;
}
