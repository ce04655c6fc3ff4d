/**
 * Topics as code: the plan that brings a cluster in line with deploy/kafka/topics.json. Pure: desired and actual state
 * in, actions out. Partitions only go up and the replication factor is never changed: a desired decrease (or any
 * replication change) is reported as a refusal, on purpose, because Kafka cannot drop partitions without losing the
 * key-to-partition mapping (and data), and moving replicas is a reassignment this tool does not do.
 */
import type { TopicList } from '../../schemas/topic-config.ts';
import type { ConfigSource, ConfigValue, NewTopic } from './admin.ts';

/** A topic as the file wants it: partitions, replication and every topic-level setting to pin. */
export type DesiredTopic = NewTopic;

/** A topic as it is on the cluster, with the settings it reports. */
export interface ActualTopic {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly config: Readonly<Record<string, ConfigValue>>;
}

/** One setting to change: its value in force now (undefined when the cluster did not report the key) and the new one. */
export interface ConfigChange {
  readonly key: string;
  readonly from: string | null | undefined;
  /** Where the current value comes from; a value equal to the file's but not set on the topic is pinned too. */
  readonly fromSource: ConfigSource | undefined;
  readonly to: string;
}

/** A change `qt topics apply` makes. */
export type TopicAction =
  | { readonly kind: 'create'; readonly topic: string; readonly partitions: number; readonly replicationFactor: number; readonly config: Readonly<Record<string, string>> }
  | { readonly kind: 'add-partitions'; readonly topic: string; readonly from: number; readonly to: number }
  | { readonly kind: 'set-config'; readonly topic: string; readonly changes: readonly ConfigChange[] };

/** A difference `qt topics apply` will not make, with the reason shown to the user. */
export type Refusal =
  | { readonly kind: 'partition-decrease'; readonly topic: string; readonly actual: number; readonly desired: number }
  | { readonly kind: 'replication-factor'; readonly topic: string; readonly actual: number; readonly desired: number };

/** What it takes to bring the cluster in line with the file. */
export interface TopicPlan {
  /** In file order: a topic's creation, or its partitions then its settings. */
  readonly actions: readonly TopicAction[];
  readonly refusals: readonly Refusal[];
  /** File topics that need nothing. */
  readonly inSync: readonly string[];
  /** Topics on the cluster that are not in the file (internal `_`-topics left out): left alone. */
  readonly unmanagedTopics: readonly string[];
  /** Settings made on a managed topic that the file does not name: left alone. */
  readonly unmanagedConfig: readonly { readonly topic: string; readonly key: string; readonly value: string | null }[];
}

/**
 * The desired state of every topic in the list: its partitions, the list's replication factor, and its settings with
 * the list's `min.insync.replicas` (unless the topic sets its own), so acks=-1 producers need that many replicas.
 */
export function desiredTopics(list: TopicList): DesiredTopic[] {
  return list.topics.map((t) => ({
    name: t.name,
    partitions: t.partitions,
    replicationFactor: list.replicationFactor,
    config: { 'min.insync.replicas': String(list.minInsyncReplicas), ...t.config },
  }));
}

const INTEGER = /^-?[0-9]+$/;
const DECIMAL = /^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/;

/**
 * Whether two values of a setting mean the same: lists compare as sets (`cleanup.policy` "delete,compact" is
 * "compact,delete"), integers exactly (longs past 2^53 included), decimals by value ("0.10" is "0.1"), words
 * ignoring case ("TRUE" is "true").
 */
export function sameConfigValue(a: string, b: string): boolean {
  if (a === b) return true;
  const x = a.trim();
  const y = b.trim();
  if (INTEGER.test(x) && INTEGER.test(y)) return BigInt(x) === BigInt(y);
  if (DECIMAL.test(x) && DECIMAL.test(y)) return Number(x) === Number(y);
  if (x.includes(',') || y.includes(',')) {
    const set = (s: string): string => [...new Set(s.split(',').map((p) => p.trim().toLowerCase()).filter((p) => p !== ''))].sort().join(',');
    return set(x) === set(y);
  }
  return x.toLowerCase() === y.toLowerCase();
}

/** Internal topics (`__consumer_offsets`, the schema registry's `_schemas`) are the cluster's own, never reported. */
function isInternal(topic: string): boolean {
  return topic.startsWith('_');
}

/**
 * Compares the file with the cluster and plans the changes; never plans a partition decrease or a replication change.
 * `actual` holds the described topics (at least every file topic that exists); `listed` every topic name on the
 * cluster, for the report of unmanaged topics (default: the names in `actual`).
 */
export function planTopics(desired: readonly DesiredTopic[], actual: readonly ActualTopic[], listed: readonly string[] = actual.map((t) => t.name)): TopicPlan {
  const byName = new Map(actual.map((t) => [t.name, t]));
  const actions: TopicAction[] = [];
  const refusals: Refusal[] = [];
  const inSync: string[] = [];
  const unmanagedConfig: { topic: string; key: string; value: string | null }[] = [];
  for (const want of desired) {
    const have = byName.get(want.name);
    if (!have) {
      actions.push({ kind: 'create', topic: want.name, partitions: want.partitions, replicationFactor: want.replicationFactor, config: { ...want.config } });
      continue;
    }
    let changed = false;
    if (want.partitions > have.partitions) {
      actions.push({ kind: 'add-partitions', topic: want.name, from: have.partitions, to: want.partitions });
      changed = true;
    } else if (want.partitions < have.partitions) {
      refusals.push({ kind: 'partition-decrease', topic: want.name, actual: have.partitions, desired: want.partitions });
      changed = true;
    }
    if (want.replicationFactor !== have.replicationFactor) {
      refusals.push({ kind: 'replication-factor', topic: want.name, actual: have.replicationFactor, desired: want.replicationFactor });
      changed = true;
    }
    const changes: ConfigChange[] = [];
    for (const [key, to] of Object.entries(want.config)) {
      const now = have.config[key];
      const same = now !== undefined && now.value !== null && now.source === 'topic' && sameConfigValue(now.value, to);
      if (!same) changes.push({ key, from: now?.value, fromSource: now?.source, to });
    }
    if (changes.length > 0) {
      actions.push({ kind: 'set-config', topic: want.name, changes });
      changed = true;
    }
    for (const [key, v] of Object.entries(have.config)) {
      if (v.source === 'topic' && !(key in want.config)) unmanagedConfig.push({ topic: want.name, key, value: v.value });
    }
    if (!changed) inSync.push(want.name);
  }
  const wanted = new Set(desired.map((d) => d.name));
  const unmanagedTopics = [...new Set(listed)].filter((n) => !wanted.has(n) && !isInternal(n)).sort();
  return { actions, refusals, inSync, unmanagedTopics, unmanagedConfig };
}

/** True when the plan changes nothing and refuses nothing: the cluster matches the file. */
export function isEmptyPlan(plan: TopicPlan): boolean {
  return plan.actions.length === 0 && plan.refusals.length === 0;
}
