/** Reads a cluster through the admin port and carries out a topic plan on it. */
import { AdminConnectionError, type TopicAdmin } from './admin.ts';
import type { ActualTopic, DesiredTopic, TopicAction, TopicPlan } from './planner.ts';

/** The cluster as the planner needs it: the file's topics that exist, described, and every topic name. */
export interface ClusterState {
  readonly actual: readonly ActualTopic[];
  readonly listed: readonly string[];
}

/** Lists the cluster's topics and describes those of the file (partitions, replicas, settings). */
export async function readCluster(admin: TopicAdmin, desired: readonly DesiredTopic[]): Promise<ClusterState> {
  const listed = await admin.listTopics();
  const present = new Set(listed);
  const names = desired.map((d) => d.name).filter((n) => present.has(n));
  if (names.length === 0) return { actual: [], listed };
  const [described, configs] = await Promise.all([admin.describeTopics(names), admin.describeConfigs(names)]);
  const actual = described.map((d): ActualTopic => ({ ...d, config: configs.get(d.name) ?? {} }));
  return { actual, listed };
}

/** What `apply` did: the actions carried out, those that failed with their error, and those not tried. */
export interface ApplyResult {
  readonly done: readonly TopicAction[];
  readonly failed: readonly { readonly action: TopicAction; readonly error: Error }[];
  /** Left out after the cluster became unreachable. */
  readonly skipped: readonly TopicAction[];
}

/**
 * Carries out the plan's actions in order, one admin call each (so a failure names its topic). An action that fails is
 * recorded and the others go on (they are independent); once the cluster cannot be reached (AdminConnectionError) the
 * rest are skipped. Refusals are never acted on.
 */
export async function applyPlan(admin: TopicAdmin, plan: TopicPlan): Promise<ApplyResult> {
  const done: TopicAction[] = [];
  const failed: { action: TopicAction; error: Error }[] = [];
  const skipped: TopicAction[] = [];
  let unreachable = false;
  const attempt = async (actions: readonly TopicAction[], run: () => Promise<void>): Promise<void> => {
    if (unreachable) {
      skipped.push(...actions);
      return;
    }
    try {
      await run();
      done.push(...actions);
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      for (const action of actions) failed.push({ action, error });
      if (error instanceof AdminConnectionError) unreachable = true;
    }
  };
  for (const a of plan.actions) {
    if (a.kind === 'create') {
      await attempt([a], () => admin.createTopics([{ name: a.topic, partitions: a.partitions, replicationFactor: a.replicationFactor, config: a.config }]));
    } else if (a.kind === 'add-partitions') {
      await attempt([a], () => admin.createPartitions(a.topic, a.to));
    } else {
      await attempt([a], () => admin.alterConfigs(a.topic, Object.fromEntries(a.changes.map((c) => [c.key, c.to]))));
    }
  }
  return { done, failed, skipped };
}
