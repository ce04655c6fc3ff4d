-- pipe.steps.v1 -> qt.pipeline_steps: each stage's finished bar steps (the step protocol of docs/distributed-stages.md).
-- counts (array of records) is stored as parallel arrays counts_<field>: the records the stage published in the step
-- per topic partition. Which stage is behind: SELECT stage, max(step) FROM qt.pipeline_steps FINAL GROUP BY stage.
CREATE TABLE IF NOT EXISTS qt.pipeline_steps
(
    id String COMMENT 'deterministic id: stage and step',
    ts_event DateTime64(3, 'UTC') COMMENT 'the step\'s clock',
    ts_init DateTime64(3, 'UTC'),
    stage LowCardinality(String) COMMENT 'the stage that finished the step, e.g. features',
    step Int64 COMMENT 'start of the bar step (ms)',
    prev_step Int64 COMMENT 'the step before it (ms), -1 for the first',
    clock Int64 COMMENT 'event time at the end of the step (ms)',
    last Bool COMMENT 'the last step of a finite market source',
    counts_topic Array(LowCardinality(String)) COMMENT 'topics, parallel to the other counts_ arrays',
    counts_partition Array(Int32),
    counts_records Array(Int32) COMMENT 'records published in the step'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts_event)
ORDER BY (stage, ts_event, step, id)
COMMENT 'pipe.steps.v1: bar steps finished per stage';
