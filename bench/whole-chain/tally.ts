/**
 * What a run produced, for comparing the RxJS chain with the plain loop: the product's own run summary
 * (SummaryCollector, the counts `qt run` prints) plus, per topic, an order-sensitive digest of the message ids (ids
 * are derived from input ids, so equal digests mean the same messages in the same order on that topic).
 */
import { SummaryCollector, type RunSummary } from '../../pipelines/run/summary.ts';
import type { TopicName, Topics } from '../../schemas/topics.ts';

/** Counts and digests of one run. */
export class Tally {
  /** The product's summary of the run. */
  readonly summary: SummaryCollector;
  /** Per topic: messages seen and an order-sensitive 32-bit digest of their ids. */
  readonly topics = new Map<string, { n: number; h: number }>();

  constructor(initialEquity: number) {
    this.summary = new SummaryCollector(initialEquity);
  }

  /** Takes one message of a topic. */
  observe<T extends TopicName>(topic: T, value: Topics[T]): void {
    this.summary.observe(topic, value);
    let t = this.topics.get(topic);
    if (!t) this.topics.set(topic, (t = { n: 0, h: 0x811c9dc5 }));
    const id = (value as { readonly id: string }).id;
    let h = t.h;
    for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
    t.h = Math.imul(h ^ t.n, 0x01000193) >>> 0;
    t.n++;
  }
}

/** The rows compared between runs: label and value as text. */
export function countRows(s: RunSummary): [string, string][] {
  const n = (x: number): string => String(x);
  return [
    ['bars', n(s.bars)],
    ['feature vectors', n(s.featureVectors)],
    ['signals', n(s.signals)],
    ['decisions', n(s.decisions)],
    ['  intents', n(s.intents)],
    ['  refusals', n(s.refusals)],
    ['risk approved', n(s.ordersApproved)],
    ['risk denied', n(s.ordersDenied)],
    ['broker orders', n(s.orders)],
    ['fills', n(s.fills)],
    ['exit orders', n(s.exits)],
    ['closed trades', n(s.closedTrades)],
    ['dead letters', n(s.deadLetters)],
    ['final equity', s.finalEquity.toFixed(6)],
  ];
}

/** Topics whose digests differ between two tallies (a topic missing on one side counts as different). */
export function digestMismatches(a: Tally, b: Tally): string[] {
  const names = new Set([...a.topics.keys(), ...b.topics.keys()]);
  const bad: string[] = [];
  for (const t of [...names].sort()) {
    const x = a.topics.get(t);
    const y = b.topics.get(t);
    if (!x || !y || x.n !== y.n || x.h !== y.h) bad.push(t);
  }
  return bad;
}

/** Renders counts side by side (one column per run) with a match mark against the first column. */
export function formatCounts(columns: readonly { readonly name: string; readonly summary: RunSummary }[]): { text: string; allMatch: boolean } {
  const rows = columns.map((c) => countRows(c.summary));
  const labels = rows[0]!.map((r) => r[0]);
  const w0 = Math.max(...labels.map((l) => l.length));
  const ws = columns.map((c, j) => Math.max(c.name.length, ...rows[j]!.map((r) => r[1].length)));
  let allMatch = true;
  const lines = [`  ${''.padEnd(w0)}  ${columns.map((c, j) => c.name.padStart(ws[j]!)).join('  ')}  same`];
  labels.forEach((label, i) => {
    const vals = rows.map((r) => r[i]![1]);
    const same = vals.every((v) => v === vals[0]);
    allMatch &&= same;
    lines.push(`  ${label.padEnd(w0)}  ${vals.map((v, j) => v.padStart(ws[j]!)).join('  ')}  ${same ? 'yes' : 'NO'}`);
  });
  return { text: lines.join('\n'), allMatch };
}
