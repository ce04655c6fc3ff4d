import type { DeadLetter } from './dead-letter.ts';

/** Why a source could not turn a raw line into a message (the validators add their own reasons downstream). */
export const SOURCE_ERROR_REASONS = ['MALFORMED'] as const;
/** A source-level error reason. */
export type SourceErrorReason = (typeof SOURCE_ERROR_REASONS)[number];

/**
 * A raw candidate from a market source (a CSV line, a synthetic tick, a websocket frame) before edge validation.
 * A line that cannot be parsed comes out with `value: null` and an error, never thrown and never dropped.
 */
export interface SourceRecord<T> {
  /** Where it came from, e.g. `csv:<path>` or `synthetic`. */
  readonly source: string;
  /** Line number (1-based) for files, sequence number for generated or streamed input. */
  readonly offset: number;
  /** The original line, or a JSON rendering for sources without one. */
  readonly raw: string;
  /** The parsed message, or null when the raw input could not be parsed. */
  readonly value: T | null;
  /** Set when value is null: why, and a human-readable detail. */
  readonly error?: { readonly reason: string; readonly message: string };
}

/** The outcome of edge validation: the message as it came, or the dead letter that replaces it. */
export type Validated<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly deadLetter: DeadLetter };
