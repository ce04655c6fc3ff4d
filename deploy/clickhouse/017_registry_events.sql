-- model.registry.v1 -> qt.registry_events: the model registry's log, one row per change. The champion of each member
-- now: SELECT member, argMax(champion, seq) FROM qt.registry_events FINAL GROUP BY member
CREATE TABLE IF NOT EXISTS qt.registry_events
(
    id String COMMENT 'deterministic event id (from seq)',
    ts_event DateTime64(3, 'UTC') COMMENT 'when the change was made',
    ts_init DateTime64(3, 'UTC'),
    seq Int64 COMMENT 'position in the registry log, from 1',
    member LowCardinality(String),
    action LowCardinality(String) COMMENT 'REGISTERED, PROMOTED, ROLLED_BACK, SHADOW_ADDED or SHADOW_REMOVED',
    version LowCardinality(String) COMMENT 'the version acted on',
    champion LowCardinality(String) COMMENT 'champion after the change',
    previous_champion LowCardinality(String) COMMENT 'champion before the change',
    shadows Array(String) COMMENT 'shadow versions after the change',
    dir String COMMENT 'artifact folder of the version',
    actor LowCardinality(String) COMMENT 'cli, learning or bootstrap',
    reason String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts_event)
ORDER BY (member, ts_event, seq, id)
COMMENT 'model.registry.v1: model registry changes';
