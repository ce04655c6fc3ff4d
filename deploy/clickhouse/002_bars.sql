-- md.bars.1m.v1 -> qt.bars
CREATE TABLE IF NOT EXISTS qt.bars
(
    id String COMMENT 'deterministic event id',
    ts_event DateTime64(3, 'UTC') COMMENT 'close time of the bar (open_time + interval)',
    ts_init DateTime64(3, 'UTC') COMMENT 'time the message was created (injected clock)',
    exchange LowCardinality(String),
    symbol LowCardinality(String),
    interval LowCardinality(String) COMMENT 'bar interval, e.g. 1m',
    open_time DateTime64(3, 'UTC') COMMENT 'open time, on an interval boundary',
    open Float64,
    high Float64,
    low Float64,
    close Float64,
    volume Float64 COMMENT 'base volume',
    quote_volume Float64 COMMENT 'quote volume',
    buy_volume Float64 COMMENT 'taker buy base volume',
    trades Int64 COMMENT 'number of trades'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts_event)
ORDER BY (exchange, symbol, ts_event, id)
COMMENT 'md.bars.1m.v1: closed OHLCV bars';
