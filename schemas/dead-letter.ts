import { bytes, field, int, long, nullable, record, string, type Infer } from './avro.ts';

/** <topic>.dlq: a message that could not be processed, with its raw bytes and why. */
export const DeadLetterSchema = record('qt.dlq.DeadLetter', {
  id: field(string, { doc: 'sourceTopic:partition:offset, or a content hash for edge input' }),
  tsEvent: field(long, { doc: 'time of the failure, ms' }),
  tsInit: long,
  sourceTopic: field(string, { doc: 'topic (or source name for edge input, e.g. csv:path)' }),
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
