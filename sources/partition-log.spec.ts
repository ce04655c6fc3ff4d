import { describe, expect, it } from 'vitest';
import { topicConfig, type TopicConfig } from '../schemas/topic-config.ts';
import { firstBySeq, PartitionLog, type Writer } from './partition-log.ts';

const T = 1_717_200_000_000;

/** Writes `size` bytes, each the low byte of `tag`. */
function bytes(size: number, tag: number): Writer {
  return (buf, pos) => {
    if (buf.length - pos < size) return buf.length - pos - size;
    buf.fill(tag & 0xff, pos, pos + size);
    return pos + size;
  };
}

function log(o: Partial<TopicConfig>): PartitionLog {
  return new PartitionLog('t', 0, { ...topicConfig('md.trades.v1'), retentionMs: -1, retentionBytes: -1, ...o });
}

/** Offset, key and first byte of every retained record. */
function read(l: PartitionLog): [number, string, number][] {
  const c = l.read(0, l.nextOffset, T);
  const out: [number, string, number][] = [];
  for (; c.ready(); c.advance()) out.push([c.offset, c.key, c.value[0]!]);
  return out;
}

describe('PartitionLog', () => {
  it('keeps a quiet partition small and a busy one in trimmed 1 MiB segments', () => {
    const l = log({});
    l.append('k', T, undefined, 0, T, bytes(100, 0));
    expect(l.heldBytes).toBe(4096);
    for (let i = 1; i < 30_000; i++) l.append('k', T, undefined, i, T, bytes(100, i));
    expect(l.bytes).toBe(3_000_000);
    // Two sealed segments of 10 485 records, trimmed to their content, and the active one grown by doubling.
    expect(l.heldBytes).toBe(2 * 1_048_500 + 1_048_576);
    expect(read(l).map(([o, , b]) => b === (o & 0xff))).not.toContain(false);
  });

  it('frees head segments as retention drops their records', () => {
    const l = log({ retentionBytes: 500_000 });
    for (let i = 0; i < 100_000; i++) l.append('k', T, undefined, i, T, bytes(100, i));
    expect([l.count, l.bytes]).toEqual([5_000, 500_000]);
    expect(l.heldBytes).toBeLessThanOrEqual(1_048_500 + 1_048_576);
    expect(l.startOffset(T)).toBe(95_000);
  });

  it('rewrites a compacted partition so dead records do not pile up, keeping every key', () => {
    const l = log({ cleanupPolicy: 'compact' });
    l.append('rare', T, { h: '1' }, 0, T, bytes(100, 7));
    // Ten hot keys, and a key written once every 10 000 records: without rewriting, each would pin a 1 MiB segment.
    const key = (i: number) => (i % 10_000 === 5_000 ? `once${i}` : `k${i % 10}`);
    for (let i = 1; i <= 200_000; i++) l.append(key(i), T, undefined, i, T, bytes(100, i));
    const once = Array.from({ length: 20 }, (_, j) => 5_000 + 10_000 * j);
    const last = Array.from({ length: 10 }, (_, j) => 199_991 + j);
    expect([l.count, l.bytes]).toEqual([31, 3_100]);
    // The active segment, the rewritten survivors and less than the cleaning threshold of dead bytes.
    expect(l.heldBytes).toBeLessThan(1_048_576 + 128 * 1024);
    expect(read(l)).toEqual([[0, 'rare', 7], ...[...once, ...last].map((o) => [o, key(o), o & 0xff])]);
    const c = l.read(0, 1, T);
    expect(c.ready() && c.headers).toEqual({ h: '1' });
  });

  it('stores records larger than a segment whole, one per segment', () => {
    const l = log({});
    l.append('a', T, undefined, 0, T, bytes(10, 1));
    l.append('b', T, undefined, 1, T, bytes(3_000_000, 2));
    l.append('c', T, undefined, 2, T, bytes(10, 3));
    expect(read(l).map(([o, k, b]) => [o, k, b])).toEqual([[0, 'a', 1], [1, 'b', 2], [2, 'c', 3]]);
    const c = l.read(1, 2, T);
    expect(c.ready() && c.value.length).toBe(3_000_000);
  });

  it('merges cursors of several partitions in publish order', () => {
    const a = log({});
    const b = new PartitionLog('t', 1, { ...topicConfig('md.trades.v1'), retentionMs: -1, retentionBytes: -1 });
    for (let seq = 0; seq < 10; seq++) (seq % 3 === 0 ? a : b).append('k', T, undefined, seq, T, bytes(5, seq));
    const cursors = [a.read(0, a.nextOffset, T), b.read(0, b.nextOffset, T)];
    const seqs: number[] = [];
    for (let c = firstBySeq(cursors); c; c = firstBySeq(cursors)) {
      seqs.push(c.seq);
      c.advance();
    }
    expect(seqs).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
