-- model.learning.v1 -> qt.learning_events: continuous-learning steps (retrains, promotion tests and their statistics,
-- promotions, rollbacks).
CREATE TABLE IF NOT EXISTS qt.learning_events
(
    id String COMMENT 'deterministic event id',
    ts_event DateTime64(3, 'UTC'),
    ts_init DateTime64(3, 'UTC'),
    member LowCardinality(String),
    step LowCardinality(String) COMMENT 'SCHEDULED, TRAINING_STARTED, TRAINED, TRAINING_FAILED, TRAINER_UNAVAILABLE, SHADOW_REGISTERED, TEST, PROMOTED, KEPT or ROLLED_BACK',
    candidate_version LowCardinality(String) COMMENT 'the challenger, empty when none',
    champion_version LowCardinality(String) COMMENT 'the model it is compared with',
    outcomes Int64 COMMENT 'paired realised outcomes in the test',
    mean_diff Float64 COMMENT 'mean champion minus challenger log loss (> 0: challenger better); NaN outside tests',
    statistic Float64 COMMENT 'Diebold-Mariano statistic (Newey-West variance); NaN outside tests',
    p_value Float64 COMMENT 'one-sided p-value; NaN outside tests',
    data_from_ms Int64 COMMENT 'first bar open time of the training data, ms since the epoch; 0 when none',
    data_to_ms Int64 COMMENT 'last bar open time of the training data, ms since the epoch; 0 when none',
    detail String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts_event)
ORDER BY (member, ts_event, id)
COMMENT 'model.learning.v1: continuous-learning steps';
