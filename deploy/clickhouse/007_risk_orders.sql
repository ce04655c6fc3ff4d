-- risk.orders.v1 -> qt.risk_orders
CREATE TABLE IF NOT EXISTS qt.risk_orders
(
    id String COMMENT 'deterministic event id',
    ts_event DateTime64(3, 'UTC'),
    ts_init DateTime64(3, 'UTC'),
    exchange LowCardinality(String),
    symbol LowCardinality(String),
    decision_id String COMMENT 'qt.decisions.id',
    client_order_id String COMMENT 'derived from the decision id; the idempotency key at the venue',
    verdict LowCardinality(String) COMMENT 'APPROVED or DENIED',
    deny_reason LowCardinality(String) COMMENT 'NONE when approved',
    deny_detail String,
    side LowCardinality(Nullable(String)) COMMENT 'BUY or SELL, NULL when denied',
    qty Float64 COMMENT 'base quantity, 0 when denied',
    leverage Float64,
    ref_price Float64 COMMENT 'close of the decision bar',
    stop_price Float64 COMMENT 'initial stop-loss price, 0 when denied',
    take_profits Array(Float64) COMMENT 'take-profit ladder prices, nearest first',
    risk_fraction Float64 COMMENT 'fraction of equity at risk if the stop is hit',
    equity Float64 COMMENT 'equity used for sizing',
    mode LowCardinality(String),
    confidence Float64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts_event)
ORDER BY (exchange, symbol, ts_event, id)
COMMENT 'risk.orders.v1: order intents approved with a size or denied with a reason';
