/**
 * A small typed builder for Avro schemas: each builder carries the Avro JSON and, at the type level, the TypeScript
 * type of the values it describes. Message types are derived from their schema with `Infer`, so the type and the Avro
 * schema come from one definition and cannot drift.
 */

/** A schema node: the Avro JSON plus a phantom TypeScript type. */
export interface Schema<T> {
  readonly avro: unknown;
  /** Phantom field, never set: carries T for `Infer`. */
  readonly __type?: T;
}

/** A record schema: a named Avro record whose fields are known. */
export interface RecordSchema<T> extends Schema<T> {
  readonly name: string;
  readonly avro: { type: 'record'; name: string; doc?: string; fields: AvroField[] };
}

/** One Avro field of a record. */
export interface AvroField {
  name: string;
  type: unknown;
  doc?: string;
  default?: unknown;
}

/** The TypeScript type described by a schema. */
export type Infer<S> = S extends Schema<infer T> ? T : never;

/** A field definition: a schema with an optional doc and default. */
export interface FieldDef<T> {
  readonly schema: Schema<T>;
  readonly doc?: string;
  readonly default?: unknown;
  readonly hasDefault: boolean;
}

type AnyField = Schema<unknown> | FieldDef<unknown>;
type FieldType<F> = F extends FieldDef<infer T> ? T : F extends Schema<infer T> ? T : never;

/** The immutable object type of a record with the given fields. */
export type RecordOf<F extends Record<string, AnyField>> = { readonly [K in keyof F]: FieldType<F[K]> };

function prim<T>(name: string): Schema<T> {
  return { avro: name };
}

/** UTF-8 string. */
export const string: Schema<string> = prim('string');
/** 64-bit integer (read as a JS number: safe up to 2^53, enough for ms timestamps and counters). */
export const long: Schema<number> = prim('long');
/** 32-bit integer. */
export const int: Schema<number> = prim('int');
/** IEEE-754 double. */
export const double: Schema<number> = prim('double');
/** Boolean. */
export const boolean: Schema<boolean> = prim('boolean');
/** Raw bytes. */
export const bytes: Schema<Buffer> = prim('bytes');

/**
 * A named enum; its symbols are the TypeScript string union. With `fallback`, a reader that meets a symbol it does not
 * know (added in a later version) reads the fallback instead of failing, so symbols can be added compatibly.
 */
export function enumOf<const S extends readonly string[]>(
  name: string,
  symbols: S,
  opts: { doc?: string; fallback?: S[number] } = {},
): Schema<S[number]> {
  return {
    avro: {
      type: 'enum',
      name,
      symbols: [...symbols],
      ...(opts.doc ? { doc: opts.doc } : {}),
      ...(opts.fallback !== undefined ? { default: opts.fallback } : {}),
    },
  };
}

/** An array of items, read-only in TypeScript. */
export function array<T>(items: Schema<T>): Schema<readonly T[]> {
  return { avro: { type: 'array', items: items.avro } };
}

/** A map from string to values, read-only in TypeScript. */
export function map<T>(values: Schema<T>): Schema<Readonly<Record<string, T>>> {
  return { avro: { type: 'map', values: values.avro } };
}

/** `null` or the given type; in a record, give it a default of null with `field(nullable(x), { default: null })`. */
export function nullable<T>(inner: Schema<T>): Schema<T | null> {
  return { avro: ['null', inner.avro] };
}

/** A field with a doc string and optionally a default (needed for fields added to an existing schema). */
export function field<T>(schema: Schema<T>, opts: { doc?: string; default?: unknown } = {}): FieldDef<T> {
  return { schema, doc: opts.doc, default: opts.default, hasDefault: 'default' in opts };
}

function isFieldDef(f: AnyField): f is FieldDef<unknown> {
  return 'schema' in f;
}

/** A named record. Field order is the declaration order and is part of the wire format. */
export function record<const F extends Record<string, AnyField>>(
  name: string,
  fields: F,
  doc?: string,
): RecordSchema<RecordOf<F>> {
  const avroFields: AvroField[] = Object.entries(fields).map(([fname, f]) => {
    if (!isFieldDef(f)) return { name: fname, type: f.avro };
    const out: AvroField = { name: fname, type: f.schema.avro };
    if (f.doc) out.doc = f.doc;
    if (f.hasDefault) out.default = f.default;
    return out;
  });
  const seen = new Set<string>([name]);
  const space = name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : '';
  const fieldsOnce = avroFields.map((f) => ({ ...f, type: defineOnce(f.type, space, seen) }));
  return { name, avro: { type: 'record', name, ...(doc ? { doc } : {}), fields: fieldsOnce } };
}

/**
 * Avro allows a named type (record, enum, fixed) to be defined once per schema; later uses must be references by full
 * name. A builder value such as an enum used by two fields would otherwise be inlined twice, which avsc rejects.
 */
function defineOnce(node: unknown, ns: string, seen: Set<string>): unknown {
  if (Array.isArray(node)) return node.map((n) => defineOnce(n, ns, seen));
  if (node === null || typeof node !== 'object') return node;
  const o = node as Record<string, unknown>;
  if (o.type === 'array') return { ...o, items: defineOnce(o.items, ns, seen) };
  if (o.type === 'map') return { ...o, values: defineOnce(o.values, ns, seen) };
  if (o.type !== 'record' && o.type !== 'enum' && o.type !== 'fixed') return o;
  const name = String(o.name);
  const dotted = name.includes('.');
  const space = dotted ? name.slice(0, name.lastIndexOf('.')) : typeof o.namespace === 'string' ? o.namespace : ns;
  const full = dotted || !space ? name : `${space}.${name}`;
  if (seen.has(full)) return full;
  seen.add(full);
  if (o.type !== 'record') return o;
  return { ...o, fields: (o.fields as AvroField[]).map((f) => ({ ...f, type: defineOnce(f.type, space, seen) })) };
}
