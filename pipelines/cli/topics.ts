/**
 * `qt topics diff|apply`: topics as code. Brings a Kafka cluster in line with deploy/kafka/topics.json (see
 * pipelines/topics/planner.ts for what is changed and what is refused on purpose).
 */
import { TOPIC_LIST, type TopicList } from '../../schemas/topic-config.ts';
import { TopicAdminError, type TopicAdmin } from '../topics/admin.ts';
import { applyPlan, readCluster } from '../topics/apply.ts';
import { formatApplied, formatPlan } from '../topics/format.ts';
import { desiredTopics, planTopics } from '../topics/planner.ts';
import { formatFlags, parseArgs, type FlagSpec } from './args.ts';
import type { CliIo } from './common.ts';

/** The environment variable holding the bootstrap servers until the config schema has a kafka section. */
export const BOOTSTRAP_ENV = 'QT_KAFKA_BOOTSTRAP';

/** Exit codes of `qt topics`. */
export const TOPICS_EXIT = Object.freeze({
  /** diff: the cluster matches the file; apply: every planned change was made. */
  ok: 0,
  /** The cluster could not be read, or a change failed. */
  failed: 1,
  /** Bad command line, or no bootstrap servers. */
  usage: 2,
  /** diff only: there are changes for apply to make. */
  changes: 3,
  /** A difference the tool refuses to make (a partition decrease, a replication change); apply made the rest. */
  refused: 4,
});

const FLAGS: readonly FlagSpec[] = [
  { name: 'bootstrap', kind: 'list', value: 'host:port,...', help: `Kafka bootstrap servers (default: $${BOOTSTRAP_ENV})` },
  { name: 'help', kind: 'boolean', help: 'show this help' },
];

/** The help text of `qt topics`. */
export const TOPICS_USAGE = `Usage: qt topics diff|apply [--bootstrap host:port,...]

  diff    show what apply would change to bring the cluster in line with deploy/kafka/topics.json (changes nothing)
  apply   create missing topics, raise partition counts, set retention.ms, retention.bytes, cleanup.policy and every
          other setting of the file (and min.insync.replicas); print what was done

Partitions only go up and the replication factor is never changed: a file asking for fewer partitions or another
replication factor is reported as refused, on purpose. Topics and settings the file does not name are left alone.

${formatFlags(FLAGS)}

Exit codes: ${TOPICS_EXIT.ok} in sync (diff) or all applied (apply); ${TOPICS_EXIT.failed} the cluster could not be read or a change failed;
  ${TOPICS_EXIT.usage} usage; ${TOPICS_EXIT.changes} diff found changes to apply; ${TOPICS_EXIT.refused} a difference was refused (apply made the rest).
`;

/** What `qt topics` needs from outside; tests pass a FakeTopicAdmin. */
export interface TopicsCliDeps {
  /** Opens the admin on the bootstrap servers (default: kafkajs). */
  readonly connect?: (brokers: readonly string[]) => Promise<TopicAdmin>;
  /** The topic list (default: deploy/kafka/topics.json). */
  readonly topics?: TopicList;
}

async function kafkajsAdmin(brokers: readonly string[]): Promise<TopicAdmin> {
  const { connectKafkajsAdmin } = await import('../topics/kafkajs-admin.ts');
  return connectKafkajsAdmin({ brokers });
}

/** Runs `qt topics <diff|apply>`; returns the exit code (TOPICS_EXIT). */
export async function topicsCli(argv: readonly string[], io: CliIo, deps: TopicsCliDeps = {}): Promise<number> {
  const [sub, ...rest] = argv;
  const parsed = parseArgs(rest, FLAGS);
  if (sub === undefined || sub === 'help' || sub === '--help' || parsed.own.help === true) {
    (sub === undefined ? io.stderr : io.stdout).write(TOPICS_USAGE);
    return sub === undefined ? TOPICS_EXIT.usage : TOPICS_EXIT.ok;
  }
  const problems = [...parsed.problems];
  if (sub !== 'diff' && sub !== 'apply') problems.push(`unknown subcommand ${sub} (diff or apply)`);
  if (parsed.positionals.length > 0) problems.push(`unexpected arguments: ${parsed.positionals.join(' ')}`);
  const fromFlag = parsed.own.bootstrap as string[] | undefined;
  const brokers = fromFlag ?? (io.env[BOOTSTRAP_ENV] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (brokers.length === 0) problems.push(`no bootstrap servers: pass --bootstrap host:port or set ${BOOTSTRAP_ENV}`);
  for (const b of brokers) if (!/^[^\s:]+:[0-9]{1,5}$/.test(b) && !/^\[[0-9a-fA-F:]+\]:[0-9]{1,5}$/.test(b)) problems.push(`bootstrap server ${b}: expected host:port`);
  if (problems.length > 0) {
    io.stderr.write(`qt topics: ${problems.join('\n  ')}\n\n${TOPICS_USAGE}`);
    return TOPICS_EXIT.usage;
  }

  const list = deps.topics ?? TOPIC_LIST;
  const desired = desiredTopics(list);
  let admin: TopicAdmin | undefined;
  try {
    admin = await (deps.connect ?? kafkajsAdmin)(brokers);
    const { actual, listed } = await readCluster(admin, desired);
    const plan = planTopics(desired, actual, listed);
    io.stdout.write(`qt topics ${sub}: ${brokers.join(',')} against deploy/kafka/topics.json (${desired.length} topics)\n`);
    if (sub === 'diff') {
      io.stdout.write(formatPlan(plan, desired.length));
      if (plan.refusals.length > 0) return TOPICS_EXIT.refused;
      return plan.actions.length > 0 ? TOPICS_EXIT.changes : TOPICS_EXIT.ok;
    }
    const result = await applyPlan(admin, plan);
    io.stdout.write(formatApplied(plan, result, desired.length));
    if (result.failed.length > 0 || result.skipped.length > 0) return TOPICS_EXIT.failed;
    return plan.refusals.length > 0 ? TOPICS_EXIT.refused : TOPICS_EXIT.ok;
  } catch (e) {
    if (!(e instanceof TopicAdminError)) throw e;
    io.stderr.write(`qt topics ${sub}: ${e.name}: ${e.message}${e.retriable ? ' (retriable: try again)' : ''}\n`);
    return TOPICS_EXIT.failed;
  } finally {
    await admin?.close().catch(() => undefined);
  }
}
