-- brain.decisions.v1 members -> qt.decision_members: one row per decision and ensemble member, so "which model caused
-- this trade" is plain SQL, e.g.
--   SELECT m.member, m.model_version, m.weight, m.p_up, m.p_down
--   FROM qt.fills AS f FINAL
--   JOIN qt.risk_orders AS r FINAL ON r.client_order_id = f.client_order_id
--   JOIN qt.decision_members AS m FINAL ON m.decision_id = r.decision_id
--   WHERE f.id = '...'
-- Columns decision_id .. side are copied from the decision (derived); idx is the member's position in the vote.
CREATE TABLE IF NOT EXISTS qt.decision_members
(
    decision_id String COMMENT 'qt.decisions.id',
    ts_event DateTime64(3, 'UTC') COMMENT 'the decision''s ts_event',
    ts_init DateTime64(3, 'UTC') COMMENT 'the decision''s ts_init',
    exchange LowCardinality(String),
    symbol LowCardinality(String),
    outcome LowCardinality(String) COMMENT 'the decision''s outcome: INTENT or REFUSAL',
    side LowCardinality(Nullable(String)) COMMENT 'the decision''s side',
    idx UInt16 COMMENT 'position of the member in the decision''s members',
    member LowCardinality(String),
    model_version LowCardinality(String),
    weight Float64 COMMENT 'normalised weight in force for this vote',
    p_down Float64,
    p_flat Float64,
    p_up Float64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts_event)
ORDER BY (exchange, symbol, ts_event, decision_id, idx)
COMMENT 'brain.decisions.v1 members: each member vote and weight behind each decision';
