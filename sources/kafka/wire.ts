import avro from 'avsc';
import { codecFor, DecodeError } from '../../schemas/codec.ts';
import { schemaOf, type TopicName, type Topics } from '../../schemas/topics.ts';
import { SchemaMismatchError, WireFormatError } from './errors.ts';
import type { SchemaIds } from './schema-ids.ts';

/** The Confluent wire format's first byte. */
export const MAGIC_BYTE = 0;
/** Magic byte and the 4-byte big-endian schema id before the Avro body. */
export const HEADER_BYTES = 5;

/** Frames an Avro body: magic byte 0, schema id (4 bytes, big-endian), body. */
export function frame(schemaId: number, body: Uint8Array): Buffer {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > 0x7fffffff) throw new RangeError(`schema id ${schemaId} is not a non-negative int32`);
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  out[0] = MAGIC_BYTE;
  out.writeInt32BE(schemaId, 1);
  out.set(body, HEADER_BYTES);
  return out;
}

/** Splits framed bytes into schema id and Avro body; WireFormatError when they are too short or the magic byte is wrong. */
export function unframe(bytes: Uint8Array): { readonly schemaId: number; readonly body: Buffer } {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (buf.length < HEADER_BYTES) throw new WireFormatError(`${buf.length} bytes are too short for the wire format header`);
  if (buf[0] !== MAGIC_BYTE) throw new WireFormatError(`magic byte is ${buf[0]}, expected ${MAGIC_BYTE}`);
  return { schemaId: buf.readInt32BE(1), body: buf.subarray(HEADER_BYTES) };
}

/** How values written under one id are read with the topic's current schema. */
interface Reader {
  readonly writerName: string;
  /** Undefined when writer and reader schemas are the same (no resolution needed). */
  readonly resolver: avro.Resolver | undefined;
}

/**
 * Values to and from the Confluent wire format for each topic: written with the topic's current schema under its id,
 * read under any id of the topic's record type with Avro schema resolution into the current schema (so an older
 * version's records are read as the current type, with defaults for added fields). Ids come from a SchemaIds (the
 * project's list or a registry) and are cached, so after the first value of a topic nothing is looked up.
 */
export class WireCodec {
  private readonly writerIds = new Map<string, Promise<number>>();
  private readonly resolvedWriterIds = new Map<string, number>();
  private readonly readers = new Map<string, Reader | Promise<Reader>>();

  constructor(readonly ids: SchemaIds) {}

  /** Resolves (with a registry: registers) the writer ids of the topics up front, so a problem shows at start. */
  async prepare(topics: readonly TopicName[]): Promise<void> {
    await Promise.all(topics.map((t) => this.writerId(t)));
  }

  /** The id values of the topic are written under. */
  writerId(topic: TopicName): Promise<number> {
    let p = this.writerIds.get(topic);
    if (!p) {
      p = this.ids.writerId(topic).then((id) => {
        this.resolvedWriterIds.set(topic, id);
        return id;
      });
      // A failed lookup (registry away) is not cached: the next publish tries again.
      p.catch(() => this.writerIds.delete(topic));
      this.writerIds.set(topic, p);
    }
    return p;
  }

  /** Encodes a value in the wire format; EncodeError (from the topic's codec) when it does not match the schema. */
  async encode<T extends TopicName>(topic: T, value: Topics[T]): Promise<Buffer> {
    const id = this.resolvedWriterIds.get(topic) ?? (await this.writerId(topic));
    return frame(id, codecFor(schemaOf(topic)).encode(value));
  }

  /**
   * Decodes wire-format bytes read from a topic. Data errors (WireFormatError, UnknownSchemaIdError, SchemaMismatchError,
   * DecodeError) are not retriable: the record goes to the dead-letter topic. A retriable error (the registry could not
   * be reached) must not dead-letter the record.
   */
  async decode<T extends TopicName>(topic: T, bytes: Uint8Array): Promise<Topics[T]> {
    const known = this.decodeKnown(topic, bytes);
    if (known !== undefined) return known;
    const { schemaId, body } = unframe(bytes);
    return this.read(topic, await this.reader(topic, schemaId), body);
  }

  /** decode() without a promise when the record's schema id was seen before; undefined when it must be looked up. */
  decodeKnown<T extends TopicName>(topic: T, bytes: Uint8Array): Topics[T] | undefined {
    const { schemaId, body } = unframe(bytes);
    const cached = this.readers.get(`${topic}\u0000${schemaId}`);
    return cached && !(cached instanceof Promise) ? this.read(topic, cached, body) : undefined;
  }

  private read<T extends TopicName>(topic: T, reader: Reader, body: Buffer): Topics[T] {
    const codec = codecFor(schemaOf(topic));
    if (!reader.resolver) return codec.decode(body);
    try {
      return { ...(codec.type.fromBuffer(body, reader.resolver) as object) } as Topics[T];
    } catch (e) {
      throw new DecodeError(codec.schema.name, e);
    }
  }

  private reader(topic: TopicName, schemaId: number): Promise<Reader> {
    const key = `${topic}\u0000${schemaId}`;
    const hit = this.readers.get(key);
    if (hit) return Promise.resolve(hit);
    const p = this.ids.writerSchema(schemaId).then((writerAvro) => {
      const codec = codecFor(schemaOf(topic));
      let writer: avro.Type;
      try {
        writer = avro.Type.forSchema(writerAvro as avro.Schema, { omitRecordMethods: true });
      } catch (e) {
        throw new DecodeError(codec.schema.name, e);
      }
      const writerName = writer.name ?? '(anonymous)';
      if (writerName !== codec.schema.name) throw new SchemaMismatchError(topic, codec.schema.name, writerName, schemaId);
      let resolver: avro.Resolver | undefined;
      if (!codec.type.equals(writer)) {
        try {
          resolver = codec.type.createResolver(writer);
        } catch (e) {
          throw new DecodeError(codec.schema.name, e);
        }
      }
      const r: Reader = { writerName, resolver };
      this.readers.set(key, r);
      return r;
    });
    // Only a settled reader is kept; a failed lookup is asked again next time (it may have been the registry away).
    this.readers.set(key, p);
    p.catch(() => this.readers.delete(key));
    return p;
  }
}
