-- pos.equity.v1 -> qt.equity
CREATE TABLE IF NOT EXISTS qt.equity
(
    id String COMMENT 'deterministic event id',
    ts_event DateTime64(3, 'UTC'),
    ts_init DateTime64(3, 'UTC'),
    account LowCardinality(String) COMMENT 'account name, e.g. paper',
    equity Float64 COMMENT 'cash + unrealised PnL, quote currency',
    cash Float64,
    realized_pnl Float64 COMMENT 'cumulative, net of fees',
    unrealized_pnl Float64,
    fees Float64 COMMENT 'cumulative',
    exposure Float64 COMMENT 'gross notional of open positions',
    open_positions Int32,
    drawdown_day Float64 COMMENT '0..1',
    drawdown_week Float64 COMMENT '0..1',
    drawdown_max Float64 COMMENT 'max drawdown from the all-time peak so far, 0..1'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts_event)
ORDER BY (account, ts_event, id)
COMMENT 'pos.equity.v1: account equity after each bar or fill';
