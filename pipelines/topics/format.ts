/** Text of `qt topics diff` and `qt topics apply`: one line per change, a summary line last. */
import type { ApplyResult } from './apply.ts';
import type { ConfigChange, Refusal, TopicAction, TopicPlan } from './planner.ts';

const configText = (config: Readonly<Record<string, string>>): string =>
  Object.keys(config)
    .sort()
    .map((k) => `${k}=${config[k]}`)
    .join(', ');

const fromText = (c: ConfigChange): string => {
  if (c.from === undefined) return 'unset';
  const value = c.from === null ? '(hidden)' : c.from;
  if (c.fromSource === 'topic') return value;
  return `${value} (${c.fromSource === 'broker' ? 'broker setting' : 'Kafka default'}, not set on the topic)`;
};

/** One action as a line (create: two lines, the second with the settings). */
export function formatAction(a: TopicAction): string {
  switch (a.kind) {
    case 'create':
      return `+ create ${a.topic}: ${a.partitions} partitions, replication ${a.replicationFactor}\n    ${configText(a.config)}`;
    case 'add-partitions':
      return `~ ${a.topic}: partitions ${a.from} -> ${a.to}`;
    case 'set-config':
      return a.changes.map((c) => `~ ${a.topic}: ${c.key} ${fromText(c)} -> ${c.to}`).join('\n');
  }
}

/** A refusal and why the tool will not make it. */
export function formatRefusal(r: Refusal): string {
  switch (r.kind) {
    case 'partition-decrease':
      return `! refused ${r.topic}: partitions ${r.actual} -> ${r.desired}: Kafka cannot remove partitions, and fewer would move keys to other partitions; keep ${r.actual} in deploy/kafka/topics.json or create a new topic version`;
    case 'replication-factor':
      return `! refused ${r.topic}: replication factor ${r.actual} -> ${r.desired}: needs a partition reassignment (kafka-reassign-partitions.sh), which qt topics does not do`;
  }
}

function counts(actions: readonly TopicAction[]): string {
  const n = (k: TopicAction['kind']): number => actions.filter((a) => a.kind === k).length;
  return `${n('create')} to create, ${n('add-partitions')} to add partitions, ${n('set-config')} to change settings`;
}

/** The plan as `qt topics diff` prints it; says so plainly when there is nothing to do. */
export function formatPlan(plan: TopicPlan, total: number): string {
  const lines: string[] = [];
  for (const a of plan.actions) lines.push(formatAction(a));
  for (const r of plan.refusals) lines.push(formatRefusal(r));
  for (const t of plan.unmanagedTopics) lines.push(`  unmanaged topic ${t} (not in deploy/kafka/topics.json; left alone)`);
  for (const c of plan.unmanagedConfig) lines.push(`  unmanaged setting ${c.topic}: ${c.key}=${c.value ?? '(hidden)'} (not in deploy/kafka/topics.json; left alone)`);
  if (plan.actions.length === 0 && plan.refusals.length === 0) {
    lines.push(`Nothing to do: the cluster matches deploy/kafka/topics.json (${total} topics).`);
  } else {
    lines.push(`Plan: ${counts(plan.actions)}; ${plan.refusals.length} refused; ${plan.inSync.length} of ${total} topics in sync.`);
  }
  return `${lines.join('\n')}\n`;
}

/** What `qt topics apply` did, failures and refusals included. */
export function formatApplied(plan: TopicPlan, result: ApplyResult, total: number): string {
  const lines: string[] = [];
  for (const a of result.done) {
    switch (a.kind) {
      case 'create':
        lines.push(`created ${a.topic}: ${a.partitions} partitions, replication ${a.replicationFactor}, ${configText(a.config)}`);
        break;
      case 'add-partitions':
        lines.push(`added partitions ${a.topic}: ${a.from} -> ${a.to}`);
        break;
      case 'set-config':
        lines.push(`set ${a.topic}: ${a.changes.map((c) => `${c.key}=${c.to}`).join(', ')}`);
        break;
    }
  }
  for (const f of result.failed) lines.push(`FAILED ${formatAction(f.action).split('\n')[0]!.slice(2)}: ${f.error.name}: ${f.error.message}`);
  for (const a of result.skipped) lines.push(`skipped ${formatAction(a).split('\n')[0]!.slice(2)} (cluster unreachable)`);
  for (const r of plan.refusals) lines.push(formatRefusal(r));
  const planned = plan.actions.length;
  if (planned === 0 && plan.refusals.length === 0) lines.push(`Nothing to do: the cluster matches deploy/kafka/topics.json (${total} topics).`);
  else {
    lines.push(
      `Applied ${result.done.length} of ${planned} changes; ${result.failed.length} failed, ${result.skipped.length} skipped, ${plan.refusals.length} refused.`,
    );
  }
  return `${lines.join('\n')}\n`;
}
