-- brain.decisions.v1 -> qt.decisions; its members (array of records) go to the child table qt.decision_members.
CREATE TABLE IF NOT EXISTS qt.decisions
(
    id String COMMENT 'deterministic decision id (qt.risk_orders.decision_id)',
    ts_event DateTime64(3, 'UTC'),
    ts_init DateTime64(3, 'UTC'),
    exchange LowCardinality(String),
    symbol LowCardinality(String),
    signal_id String COMMENT 'qt.signals.id',
    outcome LowCardinality(String) COMMENT 'INTENT or REFUSAL',
    refusal LowCardinality(String) COMMENT 'refusal reason, NONE for an intent',
    refusal_detail String,
    side LowCardinality(Nullable(String)) COMMENT 'LONG or SHORT for an intent, NULL otherwise',
    mode LowCardinality(String) COMMENT 'CEO risk mode',
    mode_reason String,
    strategy LowCardinality(String) COMMENT 'strategy chosen by the strategy brain',
    risk_scale Float64 COMMENT 'size multiplier from the risk brain and mode, 0..2',
    confidence Float64,
    signal LowCardinality(String),
    close Float64,
    atr_pct Float64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts_event)
ORDER BY (exchange, symbol, ts_event, id)
COMMENT 'brain.decisions.v1: order intents and refusals of the brains';
