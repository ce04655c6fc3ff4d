import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { schemaOf, type TopicName } from '../../schemas/topics.ts';
import { SchemaRegistryError, UnknownSchemaIdError } from './errors.ts';
import { LocalSchemaIds, type SchemaIds } from './schema-ids.ts';

/** Compatibility levels the project sets on its subjects. */
export type SubjectCompatibility = 'BACKWARD_TRANSITIVE';

/**
 * The few schema registry calls the adapter makes, so the client library can be swapped or faked. Implemented over
 * @kafkajs/confluent-schema-registry by confluentRegistryClient.
 */
export interface SchemaRegistryClient {
  /** Registers the schema under the subject (idempotent: an equal schema gets its existing id) and sets the subject's compatibility on first registration. */
  register(subject: string, avro: unknown, compatibility: SubjectCompatibility): Promise<number>;
  /** The Avro schema (JSON) registered under an id; UnknownSchemaIdError when the registry has none. */
  schema(id: number): Promise<unknown>;
}

/** The subject of a topic's values (TopicNameStrategy, passed explicitly). */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}

interface ResponseErrorLike {
  readonly status?: number;
  readonly message?: string;
  readonly name?: string;
}

// mappersmith reports a connection failure as a response with status 400 and the socket error's message.
const NETWORK = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|socket hang up|timeout/i;

/** Translates an error of @kafkajs/confluent-schema-registry (or mappersmith beneath it). */
function translate(e: unknown, operation: 'register' | 'lookup', what: string): Error {
  if (e instanceof SchemaRegistryError || e instanceof UnknownSchemaIdError) return e;
  const err = (e ?? {}) as ResponseErrorLike;
  const message = err.message ?? String(e);
  const status = typeof err.status === 'number' ? err.status : undefined;
  const network = (status === undefined || status === 400) && NETWORK.test(message);
  if (operation === 'lookup' && status === 404) return new UnknownSchemaIdError(Number(what), 'not in the schema registry');
  const retriable = network || status === 408 || status === 429 || (status !== undefined && status >= 500);
  return new SchemaRegistryError(operation, what, network ? undefined : status, retriable, message, { cause: e });
}

/**
 * A SchemaRegistryClient over @kafkajs/confluent-schema-registry, at `host` (e.g. http://registry:8081). A user and
 * password in the URL are taken out of it and sent as basic auth, so they never appear in an error message.
 */
export function confluentRegistryClient(opts: { readonly host: string; readonly auth?: { username: string; password: string }; readonly clientId?: string }): SchemaRegistryClient {
  const url = new URL(opts.host);
  const fromUrl = url.username || url.password ? { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) } : undefined;
  url.username = '';
  url.password = '';
  const auth = opts.auth ?? fromUrl;
  const registry = new SchemaRegistry({
    host: url.toString().replace(/\/$/, ''),
    ...(auth ? { auth } : {}),
    clientId: opts.clientId ?? 'quantum-trader',
  });
  return {
    async register(subject, avro, compatibility) {
      try {
        const { id } = await registry.register(
          { type: SchemaType.AVRO, schema: JSON.stringify(avro) },
          { subject, compatibility: COMPATIBILITY[compatibility] },
        );
        return id;
      } catch (e) {
        throw translate(e, 'register', subject);
      }
    },
    async schema(id) {
      try {
        const type = (await registry.getSchema(id)) as unknown as { schema(opts?: { exportAttrs?: boolean }): unknown };
        return type.schema({ exportAttrs: true });
      } catch (e) {
        throw translate(e, 'lookup', String(id));
      }
    },
  };
}

/**
 * Schema ids from a Confluent schema registry: each topic's current schema is registered under `<topic>-value` with
 * compatibility BACKWARD_TRANSITIVE (the registry refuses a schema that cannot read every earlier version), and ids
 * read from records are looked up once each.
 */
export class RegistrySchemaIds implements SchemaIds {
  constructor(private readonly client: SchemaRegistryClient) {}

  /** See SchemaIds.writerId: registers the topic's current schema. */
  writerId(topic: TopicName): Promise<number> {
    return this.client.register(valueSubject(topic), schemaOf(topic).avro, 'BACKWARD_TRANSITIVE');
  }

  /** See SchemaIds.writerSchema. */
  writerSchema(id: number): Promise<unknown> {
    return this.client.schema(id);
  }
}

/** The schema ids of the configuration: a registry at `registryUrl` (config kafka.schemaRegistryUrl), else the project's own list. */
export function schemaIdsFor(registryUrl: string | undefined): SchemaIds {
  return registryUrl ? new RegistrySchemaIds(confluentRegistryClient({ host: registryUrl })) : new LocalSchemaIds();
}
