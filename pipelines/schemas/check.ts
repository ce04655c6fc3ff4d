/**
 * What `qt schemas check` verifies: every message schema against its recorded versions (the rule of
 * scripts/schema-snapshot.ts --check), and, with a schema registry, against the latest version registered under the
 * subject `<topic>-value` of every topic, both by the project's rule and by the registry's own verdict.
 */
import type { RecordSchema } from '../../schemas/avro.ts';
import { checkCompatibility } from '../../schemas/compat.ts';
import type { TopicConfig } from '../../schemas/topic-config.ts';
import { schemaOf } from '../../schemas/topics.ts';
import { schemaHistoryStatus } from './history.ts';
import { SchemaRegistryError, type HttpSchemaRegistry } from './registry.ts';

/** One line of the check's report. */
export interface CheckLine {
  readonly ok: boolean;
  readonly text: string;
}

/** The lines of one part of the check; `problems` repeats the failing ones for the closing list. */
export interface CheckPart {
  readonly lines: readonly CheckLine[];
  readonly problems: readonly string[];
}

/** The registry subject of a topic's values (TopicNameStrategy). */
export function subjectOf(topic: string): string {
  return `${topic}-value`;
}

/** Every schema against schemas/history under `root`: a change not recorded yet or an incompatible one is a problem. */
export function checkHistory(root: string, schemas: readonly RecordSchema<unknown>[]): CheckPart {
  const lines: CheckLine[] = [];
  const problems: string[] = [];
  for (const schema of schemas) {
    const s = schemaHistoryStatus(root, schema);
    if (s.state === 'unchanged') {
      lines.push({ ok: true, text: `${s.name}: unchanged (v${s.versions})` });
      continue;
    }
    for (const p of s.compat.problems) {
      const text = `${s.name}: INCOMPATIBLE with ${p}`;
      lines.push({ ok: false, text });
      problems.push(text);
    }
    const text =
      s.state === 'new'
        ? `${s.name}: no recorded version; run npm run schemas:snapshot to record v1`
        : `${s.name}: changed since v${s.versions}${s.compat.ok ? ' (compatible)' : ''} but not recorded; run npm run schemas:snapshot to record v${s.versions + 1}${s.compat.ok ? '' : ', or bump the topic version'}`;
    lines.push({ ok: false, text });
    problems.push(text);
  }
  return { lines, problems };
}

/**
 * Every topic's schema against the latest version of its subject: full compatibility by the project's rule (readers of
 * either schema read data of the other during a rolling upgrade) and the registry's verdict under the subject's own
 * level. A subject with no version is fine (the first producer registers it). Stops at the first unreachable-registry
 * error rather than repeating it for every subject.
 */
export async function checkRegistry(registry: HttpSchemaRegistry, topics: readonly TopicConfig[]): Promise<CheckPart> {
  const lines: CheckLine[] = [];
  const problems: string[] = [];
  const fail = (text: string): void => {
    lines.push({ ok: false, text });
    problems.push(text);
  };
  for (const topic of topics) {
    const subject = subjectOf(topic.name);
    const current = schemaOf(topic.name).avro;
    try {
      const latest = await registry.latest(subject);
      if (!latest) {
        lines.push({ ok: true, text: `${subject}: not registered yet (the first producer registers it)` });
        continue;
      }
      const where = `v${latest.version} (id ${latest.id})`;
      if (latest.schemaType !== 'AVRO') {
        fail(`${subject}: registered ${where} is ${latest.schemaType}, not AVRO`);
        continue;
      }
      let registered: unknown;
      try {
        registered = JSON.parse(latest.schema);
      } catch {
        fail(`${subject}: registered ${where} is not JSON`);
        continue;
      }
      if (JSON.stringify(registered) === JSON.stringify(current)) {
        lines.push({ ok: true, text: `${subject}: same as registered ${where}` });
        continue;
      }
      const ours = checkCompatibility(registered, current, 'full');
      const verdict = await registry.testCompatibility(subject, current);
      const theirs = verdict === null ? 'no verdict' : verdict.compatible ? 'compatible' : 'INCOMPATIBLE';
      if (ours.ok && (verdict === null || verdict.compatible)) {
        lines.push({ ok: true, text: `${subject}: differs from registered ${where}, compatible (full; registry: ${theirs})` });
        continue;
      }
      for (const p of ours.problems) fail(`${subject}: INCOMPATIBLE with registered ${where}: ${p}`);
      if (verdict && !verdict.compatible) {
        fail(`${subject}: the registry refuses it against ${where}${verdict.messages.length > 0 ? `: ${verdict.messages.join('; ')}` : ''}`);
      }
    } catch (e) {
      if (!(e instanceof SchemaRegistryError)) throw e;
      fail(`${subject}: ${e.message}`);
      if (e.retriable && e.status === undefined) break;
    }
  }
  return { lines, problems };
}
