import { describe, expect, it } from 'vitest';
import { DeadLetterSchema } from './dead-letter.ts';
import { TradeSchema } from './trade.ts';
import { schemaOf, UnknownTopicError, type TopicName } from './topics.ts';

describe('schemaOf', () => {
  it('gives the schema of a data topic and the dead-letter schema of any .dlq topic', () => {
    expect(schemaOf('md.trades.v1')).toBe(TradeSchema);
    expect(schemaOf('md.trades.v1.dlq')).toBe(DeadLetterSchema);
  });

  it('refuses an unknown topic with UnknownTopicError (named, structured, not retriable)', () => {
    let e: unknown;
    try {
      schemaOf('md.trades.v2' as TopicName);
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(UnknownTopicError);
    expect(e).toMatchObject({ name: 'UnknownTopicError', topic: 'md.trades.v2', purpose: 'schema', retriable: false });
    expect((e as Error).message).toBe('unknown topic md.trades.v2 (no schema)');
  });
});
