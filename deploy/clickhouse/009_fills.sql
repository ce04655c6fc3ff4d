-- exec.fills.v1 -> qt.fills
CREATE TABLE IF NOT EXISTS qt.fills
(
    id String COMMENT 'deterministic event id',
    ts_event DateTime64(3, 'UTC'),
    ts_init DateTime64(3, 'UTC'),
    exchange LowCardinality(String),
    symbol LowCardinality(String),
    client_order_id String COMMENT 'qt.orders.client_order_id',
    venue LowCardinality(String),
    purpose LowCardinality(String),
    side LowCardinality(String),
    qty Float64 COMMENT 'base quantity of this fill',
    price Float64 COMMENT 'execution price including slippage',
    fee Float64 COMMENT 'fee in quote currency',
    liquidity LowCardinality(String) COMMENT 'TAKER or MAKER'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts_event)
ORDER BY (exchange, symbol, ts_event, id)
COMMENT 'exec.fills.v1: executions';
