-- exec.orders.v1 -> qt.orders (one row per lifecycle step)
CREATE TABLE IF NOT EXISTS qt.orders
(
    id String COMMENT 'deterministic event id',
    ts_event DateTime64(3, 'UTC'),
    ts_init DateTime64(3, 'UTC'),
    exchange LowCardinality(String),
    symbol LowCardinality(String),
    client_order_id String,
    venue LowCardinality(String) COMMENT 'paper, or a ccxt exchange id',
    status LowCardinality(String),
    purpose LowCardinality(String) COMMENT 'ENTRY, STOP_LOSS, TAKE_PROFIT or TRAILING_STOP',
    side LowCardinality(String),
    type LowCardinality(String) COMMENT 'MARKET or LIMIT',
    qty Float64 COMMENT 'ordered base quantity',
    filled_qty Float64 COMMENT 'cumulative filled quantity',
    avg_price Float64 COMMENT 'average fill price, 0 before any fill',
    reason String COMMENT 'why it was rejected or cancelled, empty otherwise'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts_event)
ORDER BY (exchange, symbol, ts_event, id)
COMMENT 'exec.orders.v1: order lifecycle events';
