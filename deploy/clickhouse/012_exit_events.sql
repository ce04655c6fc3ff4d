-- exit.events.v1 -> qt.exit_events
CREATE TABLE IF NOT EXISTS qt.exit_events
(
    id String COMMENT 'deterministic event id',
    ts_event DateTime64(3, 'UTC'),
    ts_init DateTime64(3, 'UTC'),
    exchange LowCardinality(String),
    symbol LowCardinality(String),
    position_id String,
    kind LowCardinality(String) COMMENT 'STOP_LOSS, TAKE_PROFIT, TRAILING_STOP, STOP_TO_BREAK_EVEN or TRAILING_ARMED',
    level Int32 COMMENT 'take-profit level 1..3, 0 for other kinds',
    trigger_price Float64,
    qty Float64 COMMENT 'quantity to close, 0 for a rule move',
    stop_price Float64 COMMENT 'stop in force after the event',
    client_order_id String COMMENT 'exit order id, empty for a rule move'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts_event)
ORDER BY (exchange, symbol, ts_event, id)
COMMENT 'exit.events.v1: stop-loss, take-profit ladder and trailing-stop events';
