-- ens.supervisor.v1 -> qt.supervisor_events: supervisor checks raised and cleared (changes only).
CREATE TABLE IF NOT EXISTS qt.supervisor_events
(
    id String COMMENT 'deterministic event id',
    ts_event DateTime64(3, 'UTC'),
    ts_init DateTime64(3, 'UTC'),
    scope LowCardinality(String) COMMENT 'ensemble, or the member name',
    model_version LowCardinality(String) COMMENT 'version of the member, empty for the ensemble',
    check LowCardinality(String) COMMENT 'BIAS, FEATURE_DRIFT, PREDICTION_DRIFT, BRIER_DEGRADATION, INFERENCE_ERRORS or LATENCY',
    status LowCardinality(String) COMMENT 'RAISED or CLEARED',
    verdict LowCardinality(String) COMMENT 'the verdict this check gives while raised: BIAS, DRIFT or UNHEALTHY',
    action LowCardinality(String) COMMENT 'OBSERVE or BLOCK',
    side LowCardinality(Nullable(String)) COMMENT 'the side of a bias',
    value Float64 COMMENT 'share on one side, PSI, rolling Brier score, error count or latency in s',
    threshold Float64 COMMENT 'the limit the value crossed',
    detail String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts_event)
ORDER BY (scope, check, ts_event, id)
COMMENT 'ens.supervisor.v1: supervisor verdict changes';
