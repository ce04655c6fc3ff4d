import avro from 'avsc';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { samples, variants } from '../../test/fixtures/messages.ts';
import { DecodeError, EncodeError } from '../../schemas/codec.ts';
import { ALL_SCHEMAS, schemaOf, type TopicName } from '../../schemas/topics.ts';
import { SchemaMismatchError, SchemaNotReleasedError, UnknownSchemaIdError, WireFormatError } from './errors.ts';
import { HISTORY_DIR, LocalSchemaIds, localSchemaId, releasedSchemas, SCHEMA_NUMBERS, type SchemaIds } from './schema-ids.ts';
import { frame, unframe, WireCodec } from './wire.ts';

const ids = new LocalSchemaIds();
const wire = new WireCodec(ids);
const TOPICS = Object.keys(samples) as TopicName[];

describe('Confluent framing', () => {
  it('is magic byte 0, the schema id as 4 big-endian bytes, then the body', () => {
    const framed = frame(0x01020304, Buffer.from([0xaa, 0xbb]));
    expect([...framed]).toEqual([0, 1, 2, 3, 4, 0xaa, 0xbb]);
    const { schemaId, body } = unframe(framed);
    expect(schemaId).toBe(0x01020304);
    expect([...body]).toEqual([0xaa, 0xbb]);
  });

  it('rejects a wrong magic byte and bytes too short for the header', () => {
    expect(() => unframe(Buffer.from([1, 0, 0, 0, 1, 2]))).toThrow(WireFormatError);
    expect(() => unframe(Buffer.from([0, 0, 0]))).toThrow(WireFormatError);
    expect(() => unframe(Buffer.alloc(0))).toThrow(/too short/);
  });
});

describe('registry-less schema ids', () => {
  it('keeps every number once given (a tripwire: change none, reuse none, only add)', () => {
    const given = {
      'qt.md.Trade': 1, 'qt.md.Bar': 2, 'qt.feat.FeatureVector': 3, 'qt.model.ModelVote': 4, 'qt.ens.EnsembleSignal': 5,
      'qt.brain.BrainDecision': 6, 'qt.risk.RiskOrder': 7, 'qt.exec.OrderEvent': 8, 'qt.exec.Fill': 9, 'qt.pos.Position': 10,
      'qt.pos.Equity': 11, 'qt.exit.ExitEvent': 12, 'qt.dlq.DeadLetter': 13, 'qt.model.MemberScore': 14,
      'qt.ens.SupervisorEvent': 15, 'qt.model.RegistryEvent': 16, 'qt.model.LearningEvent': 17, 'qt.eval.EvalMetric': 18,
    };
    expect(SCHEMA_NUMBERS).toMatchObject(given);
    const numbers = Object.values(SCHEMA_NUMBERS);
    expect(new Set(numbers).size).toBe(numbers.length);
    expect(localSchemaId('qt.md.Trade', 1)).toBe(1001);
    expect(localSchemaId('qt.ens.EnsembleSignal', 2)).toBe(5002);
  });

  it('numbers every record type of the code and has an id for its current schema', () => {
    expect(ALL_SCHEMAS.map((s) => s.name).filter((n) => SCHEMA_NUMBERS[n] === undefined)).toEqual([]);
    const current = ids.currentIds();
    expect(Object.keys(current).sort()).toEqual(ALL_SCHEMAS.map((s) => s.name).sort());
    expect(current['qt.ens.EnsembleSignal']).toBe(5002);
  });

  it('gives every released version of schemas/history an id of its own', () => {
    const released = releasedSchemas();
    const dirs = ALL_SCHEMAS.map((s) => s.name);
    expect(new Set(released.map((r) => r.name))).toEqual(new Set(dirs));
    expect(new Set(released.map((r) => r.id)).size).toBe(released.length);
    const v1 = released.find((r) => r.id === 5001)!;
    expect(v1).toMatchObject({ name: 'qt.ens.EnsembleSignal', version: 1 });
    expect(v1.avro).toEqual(JSON.parse(readFileSync(join(HISTORY_DIR, 'qt.ens.EnsembleSignal', 'v1.avsc.json'), 'utf8')));
  });

  it('refuses to write a schema that differs from its latest released version', async () => {
    const dir = join(import.meta.dirname, '..', '..', 'var', 'no-such-history');
    const empty = new LocalSchemaIds(dir);
    expect(() => empty.writerIdSync('md.trades.v1')).toThrow(SchemaNotReleasedError);
    await expect(empty.writerId('md.bars.1m.v1')).rejects.toThrow(/schemas:snapshot/);
  });
});

describe('WireCodec without a registry', () => {
  it.each(TOPICS.flatMap((t) => [samples[t], ...(variants[t] ?? [])].map((v, i) => [`${t}#${i}`, t, v] as const)))(
    'round-trips %s under its current id',
    async (_, topic, value) => {
      const bytes = await wire.encode(topic, value as never);
      expect(unframe(bytes).schemaId).toBe(ids.writerIdSync(topic));
      expect(await wire.decode(topic, bytes)).toEqual(value);
    },
  );

  it('reads a record written with an older version of the schema with the current one (rolling upgrade)', async () => {
    const v1 = avro.Type.forSchema(ids.released(5001)!.avro as avro.Schema);
    const current = samples['ens.signals.v1'];
    // What a v1 writer knew: the fields of v1 only.
    const v1Fields = (ids.released(5001)!.avro as { fields: { name: string }[] }).fields.map((f) => f.name);
    const old = Object.fromEntries(v1Fields.map((f) => [f, (current as Record<string, unknown>)[f]]));
    const decoded = await wire.decode('ens.signals.v1', frame(5001, v1.toBuffer(old)));
    expect(decoded).toMatchObject(old);
    expect(decoded.supervisorAction).toBe('NONE');
    expect(decoded.regime).toBeDefined();
  });

  it('fails with named data errors, none retriable', async () => {
    const trade = await wire.encode('md.trades.v1', samples['md.trades.v1']);
    const errors = await Promise.all([
      wire.decode('md.trades.v1', Buffer.from('{"price":1}')).catch((e: unknown) => e),
      wire.decode('md.trades.v1', frame(999_001, unframe(trade).body)).catch((e: unknown) => e),
      wire.decode('md.bars.1m.v1', trade).catch((e: unknown) => e),
      wire.decode('md.trades.v1', trade.subarray(0, trade.length - 3)).catch((e: unknown) => e),
      wire.decode('md.trades.v1', Buffer.concat([trade, Buffer.from([1, 2])])).catch((e: unknown) => e),
    ]);
    expect(errors.map((e) => (e as Error).name)).toEqual(['WireFormatError', 'UnknownSchemaIdError', 'SchemaMismatchError', 'DecodeError', 'DecodeError']);
    expect(errors[1]).toBeInstanceOf(UnknownSchemaIdError);
    expect(errors[2]).toBeInstanceOf(SchemaMismatchError);
    expect(errors[3]).toBeInstanceOf(DecodeError);
    for (const e of errors) expect((e as { retriable: boolean }).retriable).toBe(false);
  });

  it('refuses to encode a value that does not match its schema', async () => {
    await expect(wire.encode('md.trades.v1', { ...samples['md.trades.v1'], price: 'x' } as never)).rejects.toThrow(EncodeError);
  });

  it('looks an id up once and asks again after a failed lookup', async () => {
    let lookups = 0;
    let fail = true;
    const flaky: SchemaIds = {
      writerId: (t) => ids.writerId(t),
      writerSchema: async (id) => {
        lookups++;
        if (fail) throw Object.assign(new Error('registry away'), { retriable: true });
        return ids.writerSchema(id);
      },
    };
    const codec = new WireCodec(flaky);
    const bytes = await codec.encode('md.trades.v1', samples['md.trades.v1']);
    await expect(codec.decode('md.trades.v1', bytes)).rejects.toThrow('registry away');
    expect(codec.decodeKnown('md.trades.v1', bytes)).toBeUndefined();
    fail = false;
    await codec.decode('md.trades.v1', bytes);
    expect(codec.decodeKnown('md.trades.v1', bytes)).toEqual(samples['md.trades.v1']);
    await codec.decode('md.trades.v1', bytes);
    expect(lookups).toBe(2);
    expect(schemaOf('md.trades.v1').name).toBe('qt.md.Trade');
  });
});
