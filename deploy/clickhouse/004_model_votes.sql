-- model.votes.v1 -> qt.model_votes (already one row per member and feature vector)
CREATE TABLE IF NOT EXISTS qt.model_votes
(
    id String COMMENT 'deterministic event id',
    ts_event DateTime64(3, 'UTC'),
    ts_init DateTime64(3, 'UTC'),
    exchange LowCardinality(String),
    symbol LowCardinality(String),
    feature_id String COMMENT 'id of the feature vector voted on (qt.feature_vectors.id)',
    member LowCardinality(String) COMMENT 'ensemble member name, e.g. xgb',
    model_version LowCardinality(String) COMMENT 'registry version of the model',
    role LowCardinality(String) COMMENT 'CHAMPION (acts) or SHADOW (journal only)',
    p_down Float64,
    p_flat Float64,
    p_up Float64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts_event)
ORDER BY (exchange, symbol, ts_event, id)
COMMENT 'model.votes.v1: class probabilities of each member, champion and shadow';
