-- pos.positions.v1 -> qt.positions (every change of a position, not only the latest: the topic is compacted, the journal is not)
CREATE TABLE IF NOT EXISTS qt.positions
(
    id String COMMENT 'deterministic event id',
    ts_event DateTime64(3, 'UTC'),
    ts_init DateTime64(3, 'UTC'),
    exchange LowCardinality(String),
    symbol LowCardinality(String),
    position_id String COMMENT 'client order id of the entry',
    side LowCardinality(String) COMMENT 'LONG, SHORT or FLAT (closed)',
    qty Float64 COMMENT 'open base quantity',
    avg_entry Float64,
    leverage Float64,
    mark_price Float64,
    realized_pnl Float64 COMMENT 'realised PnL of this position so far, net of fees',
    unrealized_pnl Float64,
    stop_price Float64 COMMENT 'stop in force, 0 when flat'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts_event)
ORDER BY (exchange, symbol, ts_event, id)
COMMENT 'pos.positions.v1: position after each change';
