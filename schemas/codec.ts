import avro from 'avsc';
import type { RecordSchema } from './avro.ts';

/** Encodes and decodes one message type as Avro binary (no framing; the wire format adds the schema id). */
export interface Codec<T> {
  readonly schema: RecordSchema<T>;
  readonly type: avro.Type;
  encode(value: T): Buffer;
  decode(buf: Buffer): T;
}

/** Raised when bytes do not decode as the expected schema. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  readonly retriable = false;
  constructor(readonly schemaName: string, cause: unknown) {
    super(`cannot decode ${schemaName}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** Raised when a value does not match its schema on encode. */
export class EncodeError extends Error {
  override readonly name = 'EncodeError';
  readonly retriable = false;
  constructor(readonly schemaName: string, readonly paths: readonly string[]) {
    super(`value does not match ${schemaName} at ${paths.join(', ') || '(root)'}`);
  }
}

const cache = new WeakMap<object, Codec<unknown>>();

/** The codec of a schema, built once. Decoding copies the top-level record into a plain object (nested records stay avsc instances). */
export function codecFor<T>(schema: RecordSchema<T>): Codec<T> {
  const hit = cache.get(schema);
  if (hit) return hit as Codec<T>;
  const type = avro.Type.forSchema(schema.avro as avro.Schema, { omitRecordMethods: true });
  const codec: Codec<T> = {
    schema,
    type,
    encode(value: T): Buffer {
      const paths: string[] = [];
      if (!type.isValid(value, { errorHook: (p: string[]) => paths.push(p.join('.')) })) {
        throw new EncodeError(schema.name, paths);
      }
      return type.toBuffer(value);
    },
    decode(buf: Buffer): T {
      try {
        return { ...(type.fromBuffer(buf) as object) } as T;
      } catch (e) {
        throw new DecodeError(schema.name, e);
      }
    },
  };
  cache.set(schema, codec as Codec<unknown>);
  return codec;
}
