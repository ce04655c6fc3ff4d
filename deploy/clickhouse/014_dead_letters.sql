-- <topic>.dlq (every dead-letter topic) -> qt.dead_letters
-- dlq_topic is derived: the dead-letter topic the message was read from. payload holds the raw bytes; it is inserted
-- as base64 into the EPHEMERAL payload_base64 (JSON cannot carry raw bytes) and decoded on insert.
-- id is a deterministic hash (deriveId, `dlq-` + 20 hex digits), not a position: edge input hashes the source name, line
-- number and raw text; a stage that rejects a message hashes the source topic, the message id and the reason. A replay
-- writes the same ids, so FINAL keeps one row per failure.
CREATE TABLE IF NOT EXISTS qt.dead_letters
(
    dlq_topic LowCardinality(String) COMMENT 'dead-letter topic, e.g. md.trades.v1.dlq',
    id String COMMENT 'deterministic hash of where the message came from and what it was (deriveId), not a position',
    ts_event DateTime64(3, 'UTC') COMMENT 'time of the failure',
    ts_init DateTime64(3, 'UTC'),
    source_topic LowCardinality(String) COMMENT 'topic, or source name for edge input, e.g. csv:<absolute path>',
    partition Int32 COMMENT '-1 for edge input',
    offset Int64 COMMENT 'offset, or line number for files',
    key Nullable(String),
    payload_base64 String EPHEMERAL COMMENT 'insert-only: the original bytes, base64',
    payload String DEFAULT base64Decode(payload_base64) COMMENT 'the original bytes',
    stage LowCardinality(String) COMMENT 'stage that rejected it',
    error_class LowCardinality(String) COMMENT 'error class name',
    reason LowCardinality(String) COMMENT 'reason code from a fixed list',
    message String COMMENT 'human-readable detail'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts_event)
ORDER BY (dlq_topic, ts_event, id)
COMMENT 'every <topic>.dlq: messages that could not be processed, with their raw bytes and reason';
