import { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { fromKafkaJs, KafkaClientError, ProduceNotAcknowledgedError, UnknownSchemaIdError } from './errors.ts';

// kafkajs's typings omit the options argument its retrier passes.
const NonRetriable = KafkaJSNonRetriableError as unknown as new (e: Error, opts: { cause: Error }) => Error;
const notLeader = () => new KafkaJSProtocolError({ type: 'NOT_LEADER_FOR_PARTITION', code: 6, retriable: true, message: 'This server is not the leader for that topic-partition' } as never);

describe('fromKafkaJs', () => {
  it('names a protocol error by its Kafka error type and keeps kafkajs retriable flag', () => {
    const e = fromKafkaJs(notLeader(), 'publish');
    expect(e).toBeInstanceOf(KafkaClientError);
    expect(e).toMatchObject({ name: 'KafkaClientError', operation: 'publish', kind: 'NOT_LEADER_FOR_PARTITION', retriable: true });
    expect(e.message).toMatch(/kafka publish failed \(NOT_LEADER_FOR_PARTITION\)/);
  });

  it('unwraps the retrier: given up after retries stays retriable (a restart may succeed), non-retriable stays not', () => {
    const conn = new KafkaJSConnectionError('Connection error: ECONNREFUSED');
    const exhausted = new KafkaJSNumberOfRetriesExceeded(conn, { retryCount: 8, retryTime: 5000 } as never);
    expect(fromKafkaJs(exhausted, 'consume')).toMatchObject({ kind: 'KafkaJSConnectionError', retriable: true, operation: 'consume' });
    // As kafkajs's retrier wraps an error it does not retry.
    const denied = new KafkaJSProtocolError({ type: 'TOPIC_AUTHORIZATION_FAILED', code: 29, retriable: false, message: 'no' } as never);
    const fatal = new NonRetriable(denied, { cause: denied });
    expect(fromKafkaJs(fatal, 'publish')).toMatchObject({ kind: 'TOPIC_AUTHORIZATION_FAILED', retriable: false });
  });

  it('makes a commit refused during a rebalance retriable (it succeeds after the rejoin), and only a commit', () => {
    const rebalancing = () => new KafkaJSProtocolError({ type: 'REBALANCE_IN_PROGRESS', code: 27, retriable: false, message: 'The group is rebalancing' } as never);
    expect(fromKafkaJs(rebalancing(), 'commit')).toMatchObject({ kind: 'REBALANCE_IN_PROGRESS', retriable: true });
    expect(fromKafkaJs(new NonRetriable(rebalancing(), { cause: rebalancing() }), 'commit')).toMatchObject({ kind: 'REBALANCE_IN_PROGRESS', retriable: true });
    expect(fromKafkaJs(rebalancing(), 'consume')).toMatchObject({ retriable: false });
  });

  it('passes the adapter own errors through, also from inside the retrier', () => {
    const own = new ProduceNotAcknowledgedError(['md.trades.v1[3]'], 5);
    expect(fromKafkaJs(own, 'publish')).toBe(own);
    const data = new UnknownSchemaIdError(42);
    expect(fromKafkaJs(new NonRetriable(data, { cause: data }), 'consume')).toBe(data);
  });

  it('wraps anything else as a non-retriable client error', () => {
    expect(fromKafkaJs('boom', 'commit')).toMatchObject({ kind: 'Unknown', retriable: false });
    expect(fromKafkaJs(new TypeError('x is undefined'), 'consume')).toMatchObject({ kind: 'TypeError', retriable: false });
  });
});
