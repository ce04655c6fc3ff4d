-- md.trades.v1 -> qt.trades
-- Idempotent: ReplacingMergeTree keyed by the event id; read with FINAL so a re-inserted event counts once.
CREATE TABLE IF NOT EXISTS qt.trades
(
    id String COMMENT 'deterministic event id',
    ts_event DateTime64(3, 'UTC') COMMENT 'exchange time of the trade',
    ts_init DateTime64(3, 'UTC') COMMENT 'time the message was created (injected clock)',
    exchange LowCardinality(String) COMMENT 'ccxt exchange id',
    symbol LowCardinality(String) COMMENT 'ccxt unified symbol, e.g. BTC/USDT',
    trade_id String COMMENT 'exchange trade id, unique per instrument',
    price Float64 COMMENT 'quote currency per unit of base',
    size Float64 COMMENT 'base currency amount',
    side LowCardinality(String) COMMENT 'taker side: BUY or SELL'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts_event)
ORDER BY (exchange, symbol, ts_event, id)
COMMENT 'md.trades.v1: exchange trades (ticks)';
