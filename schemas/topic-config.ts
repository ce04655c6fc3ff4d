import { z } from 'zod';
import topicList from '../deploy/kafka/topics.json' with { type: 'json' };
import { DATA_TOPICS, dlqOf, schemaOf, type TopicName } from './topics.ts';

/** Kafka `cleanup.policy`: delete old segments, keep the latest record per key, or both. */
export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete';

/** One topic of deploy/kafka/topics.json, validated and typed. */
export interface TopicConfig {
  readonly name: TopicName;
  /** Full name of the Avro record carried by the topic (the schema registry subject is `<name>-value`). */
  readonly schema: string;
  /** What the record key is, e.g. `exchange:symbol` (documentation: keys are plain strings on the wire). */
  readonly key: string;
  readonly partitions: number;
  /** `retention.ms`; -1 = unlimited. */
  readonly retentionMs: number;
  /** `retention.bytes` per partition; -1 = unlimited. */
  readonly retentionBytes: number;
  readonly cleanupPolicy: CleanupPolicy;
  /** Every Kafka topic-level setting as written in the file (what the Kafka admin applies). */
  readonly config: Readonly<Record<string, string>>;
  readonly doc: string;
}

/** The whole topic list: cluster-wide settings and the topics. */
export interface TopicList {
  readonly replicationFactor: number;
  readonly minInsyncReplicas: number;
  readonly topics: readonly TopicConfig[];
}

/** Raised when the topic list is invalid; `problems` lists every problem found, not just the first. */
export class TopicConfigError extends Error {
  override readonly name = 'TopicConfigError';
  readonly retriable = false;
  constructor(readonly problems: readonly string[]) {
    super(`invalid topic list:\n  ${problems.join('\n  ')}`);
  }
}

/** `<domain>.<entity>[.<qualifier>].v<N>`, optionally followed by `.dlq`. */
export const TOPIC_NAME_PATTERN = /^[a-z][a-z0-9]*\.[a-z][a-z0-9]*(\.[a-z0-9]+)?\.v[1-9][0-9]*(\.dlq)?$/;

const KNOWN_TOPICS: ReadonlySet<string> = new Set([...DATA_TOPICS, ...DATA_TOPICS.map(dlqOf)]);

const intString = (min: number) =>
  z
    .string()
    .regex(/^-?[0-9]+$/, 'must be an integer written as a string')
    .transform(Number)
    .refine((n) => Number.isSafeInteger(n) && n >= min, `must be a safe integer >= ${min}`);

const CLEANUP = z
  .string()
  .transform((s) => s.split(',').map((p) => p.trim()).sort().join(','))
  .pipe(z.enum(['delete', 'compact', 'compact,delete']));

const RawTopic = z
  .object({
    name: z.string().regex(TOPIC_NAME_PATTERN, 'must be <domain>.<entity>[.<qualifier>].v<N>[.dlq]'),
    schema: z.string().min(1),
    key: z.string().min(1),
    partitions: z.number().int().positive(),
    doc: z.string().default(''),
    config: z.record(z.string(), z.string()),
  })
  .superRefine((t, ctx) => {
    if (!KNOWN_TOPICS.has(t.name)) {
      ctx.addIssue({ code: 'custom', path: ['name'], message: `${t.name} is not a topic of schemas/topics.ts` });
      return;
    }
    const expected = schemaOf(t.name as TopicName).name;
    if (t.schema !== expected) {
      ctx.addIssue({ code: 'custom', path: ['schema'], message: `${t.schema} is not ${expected}, the record of ${t.name}` });
    }
  });

const RawList = z.object({
  replicationFactor: z.number().int().positive(),
  minInsyncReplicas: z.number().int().positive(),
  topics: z.array(z.unknown()).min(1),
});

// Kafka's broker defaults, used when a topic does not set them.
const DEFAULT_RETENTION_MS = '604800000';
const DEFAULT_RETENTION_BYTES = '-1';
const DEFAULT_CLEANUP = 'delete';

/** Validates a parsed topics.json and types it; throws TopicConfigError listing every problem. */
export function parseTopicList(json: unknown): TopicList {
  const list = RawList.safeParse(json);
  if (!list.success) throw new TopicConfigError(list.error.issues.map((x) => formatIssue(x)));
  const problems: string[] = [];
  const topics: TopicConfig[] = [];
  const seen = new Set<string>();
  list.data.topics.forEach((rawTopic, i) => {
    const parsed = RawTopic.safeParse(rawTopic);
    if (!parsed.success) {
      problems.push(...parsed.error.issues.map((x) => formatIssue(x, `topics.${i}`)));
      return;
    }
    const t = parsed.data;
    if (seen.has(t.name)) problems.push(`topics.${i}.name: duplicate topic ${t.name}`);
    seen.add(t.name);
    const ms = intString(-1).safeParse(t.config['retention.ms'] ?? DEFAULT_RETENTION_MS);
    const bytes = intString(-1).safeParse(t.config['retention.bytes'] ?? DEFAULT_RETENTION_BYTES);
    const cleanup = CLEANUP.safeParse(t.config['cleanup.policy'] ?? DEFAULT_CLEANUP);
    for (const [k, r] of [['retention.ms', ms], ['retention.bytes', bytes], ['cleanup.policy', cleanup]] as const) {
      if (!r.success) problems.push(`topics.${i}.config.${k} (${t.name}): ${r.error.issues.map((x) => x.message).join('; ')}`);
    }
    if (!ms.success || !bytes.success || !cleanup.success) return;
    topics.push(
      Object.freeze({
        name: t.name as TopicName,
        schema: t.schema,
        key: t.key,
        partitions: t.partitions,
        retentionMs: ms.data,
        retentionBytes: bytes.data,
        cleanupPolicy: cleanup.data,
        config: Object.freeze({ ...t.config }),
        doc: t.doc,
      }),
    );
  });
  if (problems.length > 0) throw new TopicConfigError(problems);
  return Object.freeze({
    replicationFactor: list.data.replicationFactor,
    minInsyncReplicas: list.data.minInsyncReplicas,
    topics: Object.freeze(topics),
  });
}

function formatIssue(issue: z.core.$ZodIssue, prefix?: string): string {
  const path = [...(prefix ? [prefix] : []), ...issue.path.map(String)].join('.');
  return `${path || '(root)'}: ${issue.message}`;
}

/** deploy/kafka/topics.json, validated once at load. */
export const TOPIC_LIST: TopicList = parseTopicList(topicList);

/** Every topic's settings, in file order. */
export const TOPIC_CONFIGS: readonly TopicConfig[] = TOPIC_LIST.topics;

const BY_NAME: ReadonlyMap<string, TopicConfig> = new Map(TOPIC_CONFIGS.map((t) => [t.name, t]));

/** The settings of one topic; throws for a topic missing from deploy/kafka/topics.json. */
export function topicConfig(name: TopicName): TopicConfig {
  const c = BY_NAME.get(name);
  if (!c) throw new TopicConfigError([`${name} is not in deploy/kafka/topics.json`]);
  return c;
}
