import { bytes, field, int, long, nullable, record, string, type Infer } from './avro.ts';

/**
 * <topic>.dlq: a message that could not be processed, with its raw bytes and why. Its id is not a position but a
 * deterministic hash (deriveId), so a replay writes the same id and the journal keeps one row per failure.
 */
export const DeadLetterSchema = record('qt.dlq.DeadLetter', {
  id: field(string, { doc: 'deterministic hash of where the message came from and what it was (deriveId, dlq- prefix): edge input hashes source name, line and raw text; a stage hashes source topic, message id and reason' }),
  tsEvent: field(long, { doc: 'time of the failure, ms' }),
  tsInit: long,
  sourceTopic: field(string, { doc: 'topic (or source name for edge input, e.g. csv:<absolute path>)' }),
  partition: field(int, { doc: '-1 for edge input' }),
  offset: field(long, { doc: 'offset, or line number for files' }),
  key: field(nullable(string), { default: null }),
  payload: field(bytes, { doc: 'the original bytes' }),
  stage: field(string, { doc: 'stage that rejected it' }),
  errorClass: field(string, { doc: 'error class name' }),
  reason: field(string, { doc: 'reason code from a fixed list, e.g. NON_POSITIVE_PRICE' }),
  message: field(string, { doc: 'human-readable detail' }),
}, 'Dead letter.');
/** <topic>.dlq message. */
export type DeadLetter = Infer<typeof DeadLetterSchema>;
