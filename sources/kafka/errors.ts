/**
 * The Kafka adapter's errors: named classes with a `retriable` flag, as the project's convention wants. Client errors of
 * kafkajs are translated here (fromKafkaJs) so no caller depends on kafkajs's error classes. Data errors (a record
 * that cannot be read) are never retriable and go to the dead-letter topic; infrastructure errors are retriable and
 * either pass after the client's own retries or surface, so the process can crash and be restarted (crash-only).
 */

/** What the adapter was doing when a client error surfaced. */
export type KafkaOperation = 'connect' | 'publish' | 'consume' | 'commit' | 'metadata' | 'disconnect';

/** A kafkajs error after the client's own retries, translated. */
export class KafkaClientError extends Error {
  override readonly name = 'KafkaClientError';
  constructor(
    readonly operation: KafkaOperation,
    /** kafkajs's error class (e.g. KafkaJSConnectionError), or KafkaJSProtocolError's type (e.g. NOT_LEADER_FOR_PARTITION). */
    readonly kind: string,
    /** True when the cause is transient (a broker away, a leader moving): a restarted process may succeed. */
    readonly retriable: boolean,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`kafka ${operation} failed (${kind}): ${message}`, options);
  }
}

/** Acknowledgements of a produce still missed partitions after every resend: the records may not be stored. */
export class ProduceNotAcknowledgedError extends Error {
  override readonly name = 'ProduceNotAcknowledgedError';
  readonly retriable = true;
  constructor(readonly partitions: readonly string[], readonly attempts: number) {
    super(`no acknowledgement for ${partitions.join(', ')} after ${attempts} sends`);
  }
}

/** The bytes are not in the Confluent wire format (magic byte 0, 4-byte schema id, Avro body). */
export class WireFormatError extends Error {
  override readonly name = 'WireFormatError';
  readonly retriable = false;
}

/** A record names a schema id this reader does not know (not in the project's list, or not in the registry). */
export class UnknownSchemaIdError extends Error {
  override readonly name = 'UnknownSchemaIdError';
  readonly retriable = false;
  constructor(readonly schemaId: number, detail = '') {
    super(`unknown schema id ${schemaId}${detail ? `: ${detail}` : ''}`);
  }
}

/** A record's schema id names another record type than the topic carries (e.g. a Bar on md.trades.v1). */
export class SchemaMismatchError extends Error {
  override readonly name = 'SchemaMismatchError';
  readonly retriable = false;
  constructor(readonly topic: string, readonly expected: string, readonly actual: string, readonly schemaId: number) {
    super(`${topic} carries ${expected}, but schema id ${schemaId} is ${actual}`);
  }
}

/** The code's schema differs from its latest released version: it has no id to be written under. */
export class SchemaNotReleasedError extends Error {
  override readonly name = 'SchemaNotReleasedError';
  readonly retriable = false;
  constructor(readonly schemaName: string, readonly versions: number) {
    super(
      `${schemaName} differs from its latest released version (v${versions}) in schemas/history: ` +
        'record it with `npm run schemas:snapshot` (or give the record type a number in sources/kafka/schema-ids.ts)',
    );
  }
}

/** The schema registry refused or failed a request. */
export class SchemaRegistryError extends Error {
  override readonly name = 'SchemaRegistryError';
  constructor(
    readonly operation: 'register' | 'lookup',
    readonly subjectOrId: string,
    /** HTTP status, undefined when the registry could not be reached. */
    readonly status: number | undefined,
    readonly retriable: boolean,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`schema registry ${operation} ${subjectOrId} failed${status === undefined ? '' : ` (HTTP ${status})`}: ${message}`, options);
  }
}

/** A topic's partition count on the cluster differs from deploy/kafka/topics.json: keys would land elsewhere than the memory bus puts them. */
export class PartitionCountMismatchError extends Error {
  override readonly name = 'PartitionCountMismatchError';
  readonly retriable = false;
  constructor(readonly topic: string, readonly expected: number, readonly actual: number) {
    super(`${topic} has ${actual} partitions on the cluster, deploy/kafka/topics.json says ${expected} (run qt topics apply)`);
  }
}

/** consume() of a topic for a group whose consumer is already running in this process, or of a topic it already reads. */
export class ConsumerGroupStartedError extends Error {
  override readonly name = 'ConsumerGroupStartedError';
  readonly retriable = false;
  constructor(readonly group: string, readonly topic: string, reason: string) {
    super(`cannot consume ${topic} in group ${group}: ${reason}`);
  }
}

/** The bus was used after close(), or after a failed produce put it out of service. */
export class KafkaBusClosedError extends Error {
  override readonly name = 'KafkaBusClosedError';
  readonly retriable = false;
  constructor(reason = 'the Kafka bus is closed') {
    super(reason);
  }
}

/** Errors of a commit made while the group rebalances: retriable for a commit, which can be made again after the rejoin. */
const GROUP_REJOIN_KINDS: ReadonlySet<string> = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID']);

interface KafkaJsLikeError {
  readonly name?: string;
  readonly message?: string;
  readonly retriable?: boolean;
  readonly type?: string;
  readonly cause?: unknown;
}

/**
 * Translates a kafkajs error. The wrappers of kafkajs's retrier are unwrapped to the error it kept retrying:
 * KafkaJSNumberOfRetriesExceeded (the client gave up) stays retriable, since the cause is transient and a restart may
 * succeed; KafkaJSNonRetriableError is not. Errors of this module pass through.
 */
export function fromKafkaJs(e: unknown, operation: KafkaOperation): Error & { readonly retriable: boolean } {
  if (e instanceof Error && typeof (e as KafkaJsLikeError).retriable === 'boolean' && !e.name.startsWith('KafkaJS')) {
    return e as Error & { readonly retriable: boolean };
  }
  if (!(e instanceof Error)) return new KafkaClientError(operation, 'Unknown', false, String(e), { cause: e });
  let err = e as Error & KafkaJsLikeError;
  let exhausted = false;
  let nonRetriable = false;
  while ((err.name === 'KafkaJSNumberOfRetriesExceeded' || err.name === 'KafkaJSNonRetriableError') && err.cause instanceof Error && err.cause !== err) {
    if (err.name === 'KafkaJSNumberOfRetriesExceeded') exhausted = true;
    else nonRetriable = true;
    err = err.cause as Error & KafkaJsLikeError;
  }
  if (err !== e && !err.name.startsWith('KafkaJS') && typeof err.retriable === 'boolean') return err as Error & { readonly retriable: boolean };
  const kind = err.name === 'KafkaJSProtocolError' && err.type ? err.type : (err.name ?? 'Error');
  // kafkajs marks these not retriable because the member must rejoin first; a commit after the rejoin succeeds.
  const rejoin = operation === 'commit' && GROUP_REJOIN_KINDS.has(kind);
  const retriable = exhausted || rejoin || (!nonRetriable && err.retriable === true);
  return new KafkaClientError(operation, kind, retriable, err.message ?? String(err), { cause: e });
}
