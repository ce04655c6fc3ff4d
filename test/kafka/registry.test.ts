/**
 * The schema registry path: @kafkajs/confluent-schema-registry against FakeSchemaRegistry (an in-process HTTP fake of
 * the four endpoints the client calls; fake-schema-registry.ts says what it does not cover), and records written with
 * registry ids through librdkafka's mock cluster (3 brokers, topics of deploy/kafka/topics.json).
 *
 * Covered: subjects `<topic>-value` registered with BACKWARD_TRANSITIVE, registry ids on the wire, lookups by id in
 * another process, reading an older registered version with the current schema, the registry refusing an incompatible
 * schema, unknown ids as data errors and an unreachable registry as a retriable error. Not covered: a real registry
 * (none can run here), its canonical form and its error codes beyond 404 and 409.
 */
import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_SCHEMAS, schemaOf, type TopicName } from '../../schemas/topics.ts';
import { TOPIC_CONFIGS } from '../../schemas/topic-config.ts';
import { SchemaRegistryError, UnknownSchemaIdError } from '../../sources/kafka/errors.ts';
import { LocalSchemaIds } from '../../sources/kafka/schema-ids.ts';
import { confluentRegistryClient, RegistrySchemaIds, schemaIdsFor, valueSubject } from '../../sources/kafka/schema-registry.ts';
import { frame, unframe, WireCodec } from '../../sources/kafka/wire.ts';
import { samples, sampleKey } from '../fixtures/messages.ts';
import { FakeSchemaRegistry } from './fake-schema-registry.ts';
import { collect, testBus, waitFor } from './helpers.ts';
import { startMockCluster, type MockCluster } from './mock-cluster.ts';

let fake: FakeSchemaRegistry;
let url: string;
let mc: MockCluster;

beforeAll(async () => {
  fake = new FakeSchemaRegistry();
  url = await fake.start();
  mc = await startMockCluster();
});

afterAll(async () => {
  await fake?.stop();
  await mc?.stop();
});

const registryIds = () => new RegistrySchemaIds(confluentRegistryClient({ host: url }));

describe('schema ids from a schema registry', () => {
  it('registers every topic as <topic>-value with BACKWARD_TRANSITIVE; another process reads the records by looking their ids up', async () => {
    const writer = testBus(mc, { schemaIds: registryIds() });
    const reader = testBus(mc, { schemaIds: registryIds() });
    try {
      await writer.connect();
      expect([...fake.subjects.keys()].sort()).toEqual(TOPIC_CONFIGS.map((t) => valueSubject(t.name)).sort());
      for (const s of fake.subjects.values()) expect(s.compatibility).toBe('BACKWARD_TRANSITIVE');
      // One id per record type: the 17 dead-letter topics share the DeadLetter schema's id, as in a registry.
      const ids = new Set([...fake.subjects.values()].map((s) => s.versions[0]));
      expect(ids.size).toBe(ALL_SCHEMAS.length);

      const topics: TopicName[] = ['md.trades.v1', 'ens.signals.v1', 'md.bars.1m.v1.dlq'];
      await Promise.all(topics.map((t) => writer.publish(t, sampleKey(t), samples[t] as never)));
      const streams = topics.map((t) => [t, collect(reader, t, 'qt.registry-reader')] as const);
      await waitFor(() => streams.every(([, s]) => s.got.length >= 1 || s.errors.length > 0), 30_000, 'the three records');
      for (const [t, s] of streams) {
        expect(s.errors).toEqual([]);
        expect(s.got.map((r) => r.value)).toEqual([samples[t]]);
        const id = fake.subjects.get(valueSubject(t))!.versions[0]!;
        expect(fake.requests).toContain(`GET /schemas/ids/${id}`);
      }
      // Looked up once per id, not per record.
      expect(fake.requests.filter((r) => r.startsWith('GET /schemas/ids/')).length).toBe(3);
    } finally {
      await writer.close();
      await reader.close();
    }
  });

  it('reads a record of an older registered version with the current schema (rolling upgrade)', async () => {
    const v1Avro = new LocalSchemaIds().released(5001)!.avro;
    const v1Id = fake.seed(valueSubject('ens.signals.v1'), v1Avro);
    const currentId = fake.subjects.get(valueSubject('ens.signals.v1'))!.versions[0]!;
    expect(v1Id).not.toBe(currentId);
    const v1Fields = (v1Avro as { fields: { name: string }[] }).fields.map((f) => f.name);
    const old = Object.fromEntries(v1Fields.map((f) => [f, (samples['ens.signals.v1'] as Record<string, unknown>)[f]]));
    const codec = new WireCodec(registryIds());
    const decoded = await codec.decode('ens.signals.v1', frame(v1Id, avro.Type.forSchema(v1Avro as avro.Schema).toBuffer(old)));
    expect(decoded).toMatchObject(old);
    expect(decoded.supervisorAction).toBe('NONE');
    // And the writer's id is the current version's.
    expect(unframe(await codec.encode('ens.signals.v1', samples['ens.signals.v1'])).schemaId).toBe(currentId);
  });

  it('is refused a schema that cannot read every registered version (not retriable)', async () => {
    const trade = schemaOf('md.trades.v1').avro;
    const breaking = { ...trade, fields: [...trade.fields, { name: 'venue', type: 'string' }] };
    const error = await confluentRegistryClient({ host: url }).register(valueSubject('md.trades.v1'), breaking, 'BACKWARD_TRANSITIVE').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SchemaRegistryError);
    expect(error).toMatchObject({ operation: 'register', status: 409, retriable: false });
    // A compatible change (a field with a default) is accepted as a new version.
    const compatible = { ...trade, fields: [...trade.fields, { name: 'venue', type: 'string', default: '' }] };
    const id = await confluentRegistryClient({ host: url }).register(valueSubject('md.trades.v1'), compatible, 'BACKWARD_TRANSITIVE');
    expect(fake.subjects.get(valueSubject('md.trades.v1'))!.versions).toContain(id);
  });

  it('sends a user and password of the registry URL as basic auth, never in a message; no URL means the project ids', async () => {
    const port = new URL(url).port;
    const ids = schemaIdsFor(`http://qt:s%3Ecret@127.0.0.1:${port}`);
    expect(ids).toBeInstanceOf(RegistrySchemaIds);
    await ids.writerId('exec.fills.v1');
    expect(fake.authorizations.at(-1)).toBe(`Basic ${Buffer.from('qt:s>cret').toString('base64')}`);
    const unreachable = await schemaIdsFor('http://qt:s%3Ecret@127.0.0.1:1').writerId('exec.fills.v1').catch((e: unknown) => e);
    expect(unreachable).toMatchObject({ name: 'SchemaRegistryError', retriable: true });
    expect(String((unreachable as Error).message)).not.toMatch(/s>cret|s%3Ecret/);
    expect(schemaIdsFor(undefined)).toBeInstanceOf(LocalSchemaIds);
  });

  it('takes an id the registry does not know for a data error, and a registry it cannot reach for a retriable one', async () => {
    const codec = new WireCodec(registryIds());
    const body = unframe(await new WireCodec(new LocalSchemaIds()).encode('md.trades.v1', samples['md.trades.v1'])).body;
    const unknown = await codec.decode('md.trades.v1', frame(9_999, body)).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(UnknownSchemaIdError);
    expect(unknown).toMatchObject({ schemaId: 9_999, retriable: false });

    await fake.stop();
    const away = new WireCodec(registryIds());
    const lookup = await away.decode('md.trades.v1', frame(1, body)).catch((e: unknown) => e);
    expect(lookup).toBeInstanceOf(SchemaRegistryError);
    expect(lookup).toMatchObject({ operation: 'lookup', retriable: true });
    const register = await away.encode('md.bars.1m.v1', samples['md.bars.1m.v1']).catch((e: unknown) => e);
    expect(register).toMatchObject({ name: 'SchemaRegistryError', operation: 'register', retriable: true });
  });
});
