-- pipe.steps.v1 -> qt.pipeline_steps: each stage's finished bar steps (the step protocol of docs/distributed-stages.md).
-- counts (array of records) is stored as parallel arrays counts_<field>: the records the stage published in the step
-- per part and topic partition. A stage that runs as several replicas (features, exits) writes one row per replica
-- and step, each with the parts it covers. Which stage is behind: SELECT stage, max(step) FROM qt.pipeline_steps FINAL
-- GROUP BY stage.
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
    counts_records Array(Int32) COMMENT 'records published in the step',
    counts_part Array(Int32) COMMENT 'the part of the stage''s work the records belong to',
    parts Array(Int32) COMMENT 'the parts of the stage''s work this row covers (a replica''s share; [0] for a stage not split)',
    parts_of Int32 COMMENT 'how many parts the stage''s work has: 12 (partitions of md.bars.1m.v1) for features and exits, else 1'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts_event)
ORDER BY (stage, ts_event, step, id)
COMMENT 'pipe.steps.v1: bar steps finished per stage';

-- Columns added with StepMark v2 (replicas), for a journal created before them; its older rows read parts [] and
-- parts_of 0, which means the whole stage (a v1 mark).
ALTER TABLE qt.pipeline_steps ADD COLUMN IF NOT EXISTS counts_part Array(Int32) COMMENT 'the part of the stage''s work the records belong to' AFTER counts_records;
ALTER TABLE qt.pipeline_steps ADD COLUMN IF NOT EXISTS parts Array(Int32) COMMENT 'the parts of the stage''s work this row covers (a replica''s share; [0] for a stage not split)' AFTER counts_part;
ALTER TABLE qt.pipeline_steps ADD COLUMN IF NOT EXISTS parts_of Int32 COMMENT 'how many parts the stage''s work has: 12 (partitions of md.bars.1m.v1) for features and exits, else 1' AFTER parts;
