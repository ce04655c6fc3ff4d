/**
 * Records a consumer cannot read, on librdkafka's mock cluster (3 brokers, topics of deploy/kafka/topics.json): garbage
 * bytes, an unknown schema id, an Avro body that does not match its schema, a record of another type, mixed among valid
 * bars. Each lands in `<topic>.dlq` as a DeadLetter with its raw key and bytes and the DLQ headers, the consumer goes on
 * with the valid records, and the group's committed offset passes a dead-lettered record only once the stage has
 * committed every record before it.
 *
 * Covered: the adapter's decode path over real fetches and its commits as the mock stores them. Not covered: records a
 * stage cannot process after decoding (the stage's own dead letters), the registry lookup of unknown ids (registry.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../schemas/dead-letter.ts';
import { deriveId } from '../../schemas/ids.ts';
import type { BusRecord } from '../../schemas/ports.ts';
import { DLQ_HEADERS } from '../../sources/kafka/dead-letters.ts';
import type { KafkaBus } from '../../sources/kafka/kafka-bus.ts';
import { SchemaRegistryError } from '../../sources/kafka/errors.ts';
import { LocalSchemaIds, type SchemaIds } from '../../sources/kafka/schema-ids.ts';
import { frame, WireCodec } from '../../sources/kafka/wire.ts';
import { samples } from '../fixtures/messages.ts';
import { collect, committedOffsets, rawAdmin, rawProducer, testBus, waitFor } from './helpers.ts';
import { startMockCluster, type MockCluster } from './mock-cluster.ts';

let mc: MockCluster;
let stage: KafkaBus;
let journal: KafkaBus;
const wire = new WireCodec(new LocalSchemaIds());
const TOPIC = 'md.bars.1m.v1';
const DLQ = 'md.bars.1m.v1.dlq';

beforeAll(async () => {
  mc = await startMockCluster();
  stage = testBus(mc, { clock: { now: () => 1_717_300_000_000 } });
  journal = testBus(mc);
});

afterAll(async () => {
  await stage?.close();
  await journal?.close();
  await mc?.stop();
});

const bar = (i: number, symbol: string) => ({ ...samples[TOPIC], id: `bar-${symbol}-${i}`, symbol, tsEvent: samples[TOPIC].tsEvent + i * 60_000 });

describe('dead letters of unreadable records', () => {
  it('sends garbage, unknown ids, schema violations and foreign records to the .dlq with their bytes and headers; the consumer goes on', async () => {
    const key = 'binance:POISON/USDT';
    const partition = stage.partitionFor(TOPIC, key);
    const valid = await Promise.all([0, 1, 2, 3].map((i) => wire.encode(TOPIC, bar(i, 'POISON/USDT'))));
    const tradeBytes = await wire.encode('md.trades.v1', samples['md.trades.v1']);
    const barBody = valid[0]!.subarray(5);
    const poison = [
      Buffer.from('{"not":"avro"}'),
      frame(999_001, barBody),
      // The Bar's id with a body whose last field is cut off: it violates the schema.
      frame(new LocalSchemaIds().writerIdSync(TOPIC), barBody.subarray(0, barBody.length - 4)),
      tradeBytes,
    ];
    const values = [valid[0]!, poison[0]!, valid[1]!, poison[1]!, poison[2]!, valid[2]!, poison[3]!, valid[3]!];
    const producer = await rawProducer(mc);
    // Record timestamps 1.7e12 + offset: a dead letter's event time is its record's timestamp, whichever group reads it.
    await producer.send({ topic: TOPIC, acks: -1, messages: values.map((value, i) => ({ key, value, partition, timestamp: String(1_700_000_000_000 + i) })) });
    await producer.disconnect();

    const s = collect(stage, TOPIC, 'qt.features');
    const dlq = collect(journal, DLQ, 'qt.journal');
    await waitFor(() => s.got.length >= 4 && dlq.got.length >= 4, 30_000, '4 bars and 4 dead letters');

    expect(s.errors).toEqual([]);
    expect(s.got.map((r) => r.value.id)).toEqual([0, 1, 2, 3].map((i) => bar(i, 'POISON/USDT').id));
    expect(s.got.map((r) => r.offset)).toEqual([0, 2, 5, 7]);

    const letters = dlq.got as BusRecord<DeadLetter>[];
    expect(letters.map((r) => r.value.offset)).toEqual([1, 3, 4, 6]);
    expect(letters.map((r) => r.value.errorClass)).toEqual(['WireFormatError', 'UnknownSchemaIdError', 'DecodeError', 'SchemaMismatchError']);
    expect(letters.map((r) => r.value.reason)).toEqual(['BAD_WIRE_FORMAT', 'UNKNOWN_SCHEMA_ID', 'UNDECODABLE', 'SCHEMA_MISMATCH']);
    letters.forEach((r, i) => {
      const offset = [1, 3, 4, 6][i]!;
      expect(r.key).toBe(key);
      expect(r.value).toMatchObject({
        id: deriveId('dlq', TOPIC, partition, offset, r.value.reason), sourceTopic: TOPIC, partition, offset, key, stage: 'qt.features',
        tsEvent: 1_700_000_000_000 + offset,
        tsInit: 1_717_300_000_000,
      });
      expect(Buffer.compare(r.value.payload, poison[i]!)).toBe(0);
      expect(r.headers).toEqual({
        [DLQ_HEADERS.sourceTopic]: TOPIC,
        [DLQ_HEADERS.partition]: String(partition),
        [DLQ_HEADERS.offset]: String(offset),
        [DLQ_HEADERS.stage]: 'qt.features',
        [DLQ_HEADERS.errorClass]: r.value.errorClass,
        [DLQ_HEADERS.message]: r.value.message,
        [DLQ_HEADERS.time]: '1717300000000',
      });
    });
    expect(letters[0]!.value.message).toMatch(/magic byte/);
    expect(letters[1]!.value.message).toMatch(/999001/);
    expect(stage.stats.deadLetters).toBe(4);

    // Committing: a dead letter's offset is committed only with every stage record before it.
    const admin = await rawAdmin(mc);
    const committed = async () => (await committedOffsets(admin, 'qt.features', TOPIC))[partition];
    try {
      expect(await committed()).toBe(-1);
      await stage.commit('qt.features', TOPIC, partition, 0);
      expect(await committed()).toBe(2);
      await stage.commit('qt.features', TOPIC, partition, 2);
      expect(await committed()).toBe(5);
      await stage.commit('qt.features', TOPIC, partition, 5);
      expect(await committed()).toBe(7);
      await stage.commit('qt.features', TOPIC, partition, 7);
      expect(await committed()).toBe(8);
    } finally {
      await admin.disconnect();
    }
  });

  it('never dead-letters a record it could not read for a retriable reason (registry away): the group fails instead', async () => {
    const topic = 'exec.fills.v1';
    const local = new LocalSchemaIds();
    const away: SchemaIds = {
      writerId: (t) => local.writerId(t),
      writerSchema: async () => {
        throw new SchemaRegistryError('lookup', '1', undefined, true, 'connect ECONNREFUSED');
      },
    };
    const bus = testBus(mc, { schemaIds: away, retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 100 } });
    try {
      await bus.publish(topic, 'binance:AWAY/USDT', samples[topic]);
      const s = collect(bus, topic, 'qt.away');
      await waitFor(() => s.errors.length > 0, 30_000, 'the group to fail');
      expect(s.errors[0]).toBeInstanceOf(SchemaRegistryError);
      expect(s.errors[0]).toMatchObject({ retriable: true });
      expect(s.got).toEqual([]);
      expect(bus.stats.deadLetters).toBe(0);
    } finally {
      await bus.close();
    }
  });

  it('commits a dead-lettered record at once when no stage record before it is uncommitted', async () => {
    const key = 'binance:FIRSTBAD/USDT';
    const partition = stage.partitionFor(TOPIC, key);
    expect(partition).not.toBe(stage.partitionFor(TOPIC, 'binance:POISON/USDT'));
    const admin = await rawAdmin(mc);
    try {
      const before = (await committedOffsets(admin, 'qt.features', TOPIC))[partition];
      expect(before).toBe(-1);
      const producer = await rawProducer(mc);
      await producer.send({ topic: TOPIC, acks: -1, messages: [{ key, value: Buffer.from([0, 0, 0]), partition }] });
      await producer.disconnect();
      await waitFor(() => stage.stats.deadLetters >= 5, 20_000, 'the fifth dead letter');
      let after = -1;
      const until = Date.now() + 5_000;
      while (after !== 1 && Date.now() < until) {
        after = (await committedOffsets(admin, 'qt.features', TOPIC))[partition]!;
        if (after !== 1) await new Promise((r) => setTimeout(r, 50));
      }
      expect(after).toBe(1);
    } finally {
      await admin.disconnect();
    }
  });
});
