import { describe, expect, it } from 'vitest';
import { samples, variants } from '../test/fixtures/messages.ts';
import { codecFor, DecodeError, EncodeError } from './codec.ts';
import { ALL_SCHEMAS, DATA_TOPICS, dlqOf, schemaOf, type TopicName } from './topics.ts';

const ALL_TOPICS: TopicName[] = [...DATA_TOPICS, ...DATA_TOPICS.map(dlqOf)];

describe('Avro round trip', () => {
  const cases = ALL_TOPICS.flatMap((topic) =>
    [samples[topic], ...(variants[topic] ?? [])].map((value, i) => [`${topic}#${i}`, topic, value] as const),
  );

  it('has a sample for every topic', () => {
    expect(Object.keys(samples).sort()).toEqual([...ALL_TOPICS].sort());
  });

  it.each(cases)('%s encodes and decodes to an equal value', (_name, topic, value) => {
    const codec = codecFor(schemaOf(topic));
    const bytes = codec.encode(value);
    expect(bytes.length).toBeGreaterThan(0);
    const back = codec.decode(bytes);
    expect(back).toEqual(value);
    // Same value, same bytes: the journal and replays rely on deterministic encoding.
    expect(codec.encode(back).equals(bytes)).toBe(true);
  });

  it('covers the nullable fields both null and set', () => {
    expect(samples['brain.decisions.v1'].side).not.toBeNull();
    expect(variants['brain.decisions.v1']?.some((d) => d.side === null)).toBe(true);
    expect(samples['risk.orders.v1'].side).not.toBeNull();
    expect(variants['risk.orders.v1']?.some((o) => o.side === null)).toBe(true);
    const keys = DATA_TOPICS.map((t) => samples[dlqOf(t)].key);
    expect(keys).toContain(null);
    expect(keys.some((k) => typeof k === 'string')).toBe(true);
  });

  it('builds a codec for every schema (named types defined once)', () => {
    for (const s of ALL_SCHEMAS) expect(() => codecFor(s)).not.toThrow();
  });
});

describe('DecodeError', () => {
  const codec = codecFor(schemaOf('md.trades.v1'));
  const good = codec.encode(samples['md.trades.v1']);

  it.each([
    ['empty input', Buffer.alloc(0)],
    ['truncated record', good.subarray(0, good.length - 3)],
    ['trailing bytes', Buffer.concat([good, Buffer.from([1, 2, 3])])],
    // A string length of -1 (zig-zag 0x01) cannot be read.
    ['garbage', Buffer.from([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])],
  ])('is thrown for %s, naming the schema', (_name, bytes) => {
    let caught: unknown;
    try {
      codec.decode(bytes);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(DecodeError);
    expect(caught).toMatchObject({ name: 'DecodeError', schemaName: 'qt.md.Trade', retriable: false });
  });
});

describe('EncodeError', () => {
  const encodeError = (topic: TopicName, value: unknown): EncodeError => {
    try {
      codecFor(schemaOf(topic)).encode(value as never);
    } catch (e) {
      if (e instanceof EncodeError) return e;
      throw e;
    }
    throw new Error('encode did not throw');
  };

  it('names a top-level field of the wrong type', () => {
    const e = encodeError('md.trades.v1', { ...samples['md.trades.v1'], price: '67481.52' });
    expect(e.paths).toEqual(['price']);
    expect(e.message).toContain('price');
    expect(e).toMatchObject({ schemaName: 'qt.md.Trade', retriable: false });
  });

  it('names a missing field and an unknown enum symbol', () => {
    const { size: _size, ...noSize } = samples['md.trades.v1'];
    expect(encodeError('md.trades.v1', noSize).paths).toEqual(['size']);
    expect(encodeError('md.trades.v1', { ...samples['md.trades.v1'], side: 'HOLD' }).paths).toEqual(['side']);
  });

  it('names a nested field by its path', () => {
    const s = samples['ens.signals.v1'];
    const members = s.members.map((m, i) => (i === 1 ? { ...m, pUp: 'high' } : m));
    expect(encodeError('ens.signals.v1', { ...s, members }).paths).toEqual(['members.1.pUp']);
    expect(encodeError('ens.signals.v1', { ...s, market: { ...s.market, rsi: null } }).paths).toEqual(['market.rsi']);
  });

  it('rejects a non-integer long and a null in a non-nullable field', () => {
    expect(encodeError('md.bars.1m.v1', { ...samples['md.bars.1m.v1'], trades: 12.5 }).paths).toEqual(['trades']);
    expect(encodeError('exec.fills.v1', { ...samples['exec.fills.v1'], fee: null }).paths).toEqual(['fee']);
  });
});
