import type { DeadLetter } from '../../schemas/dead-letter.ts';
import { deriveId } from '../../schemas/ids.ts';

/**
 * Kafka header names of a dead letter, so a tool can route or count dead letters without decoding them. Values are
 * UTF-8 strings; numbers in decimal, time in ms since the epoch.
 */
export const DLQ_HEADERS = Object.freeze({
  sourceTopic: 'qt.dlq.source.topic',
  partition: 'qt.dlq.source.partition',
  offset: 'qt.dlq.source.offset',
  stage: 'qt.dlq.stage',
  errorClass: 'qt.dlq.error.class',
  message: 'qt.dlq.error.message',
  time: 'qt.dlq.time',
});

/** Reason codes of the records the adapter itself dead-letters (a stage adds its own for records it cannot process). */
export type UnreadableReason = 'BAD_WIRE_FORMAT' | 'UNKNOWN_SCHEMA_ID' | 'SCHEMA_MISMATCH' | 'UNDECODABLE';

/** The reason code of an error raised while reading a record. */
export function unreadableReason(e: Error): UnreadableReason {
  switch (e.name) {
    case 'WireFormatError':
      return 'BAD_WIRE_FORMAT';
    case 'UnknownSchemaIdError':
      return 'UNKNOWN_SCHEMA_ID';
    case 'SchemaMismatchError':
      return 'SCHEMA_MISMATCH';
    default:
      return 'UNDECODABLE';
  }
}

/** A record read from Kafka that could not be decoded: where it was and its raw bytes. */
export interface UnreadableRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  readonly payload: Buffer;
  /** The record's Kafka timestamp (ms): the dead letter's event time, the same whichever group reads the record. */
  readonly timestamp: number;
}

/**
 * The dead letter of an unreadable record and its Kafka headers. Its id hashes the source position and the reason, so
 * the same record dead-lettered again (redelivered after a crash, or read by another group) has the same id and event
 * time (the record's timestamp; the journal's key includes it), and the journal keeps one row. `now` is tsInit.
 */
export function unreadableDeadLetter(
  r: UnreadableRecord,
  stage: string,
  error: Error,
  now: number,
): { readonly value: DeadLetter; readonly headers: Record<string, string> } {
  const reason = unreadableReason(error);
  const value: DeadLetter = {
    id: deriveId('dlq', r.topic, r.partition, r.offset, reason),
    tsEvent: Number.isFinite(r.timestamp) && r.timestamp >= 0 ? r.timestamp : 0,
    tsInit: now,
    sourceTopic: r.topic,
    partition: r.partition,
    offset: r.offset,
    key: r.key,
    payload: r.payload,
    stage,
    errorClass: error.name,
    reason,
    message: error.message,
  };
  const headers = {
    [DLQ_HEADERS.sourceTopic]: r.topic,
    [DLQ_HEADERS.partition]: String(r.partition),
    [DLQ_HEADERS.offset]: String(r.offset),
    [DLQ_HEADERS.stage]: stage,
    [DLQ_HEADERS.errorClass]: error.name,
    [DLQ_HEADERS.message]: error.message,
    [DLQ_HEADERS.time]: String(now),
  };
  return { value, headers };
}
