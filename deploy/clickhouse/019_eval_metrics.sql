-- eval.metrics.v1 -> qt.eval_metrics: qt evaluate's out-of-sample scores per run, scope (ensemble or member), symbol,
-- month and fold ('*' and -1 mean all).
CREATE TABLE IF NOT EXISTS qt.eval_metrics
(
    id String COMMENT 'deterministic row id',
    ts_event DateTime64(3, 'UTC') COMMENT 'end of the evaluated data',
    ts_init DateTime64(3, 'UTC'),
    run_id String COMMENT 'hash of the data, models and settings of the evaluation',
    scope LowCardinality(String) COMMENT 'ensemble, or the member name',
    model_version LowCardinality(String),
    exchange LowCardinality(String) COMMENT 'or *',
    symbol LowCardinality(String) COMMENT 'or *',
    month LowCardinality(String) COMMENT 'YYYY-MM (UTC) or *',
    fold Int32 COMMENT 'walk-forward fold, -1 for all',
    rows Int64 COMMENT 'scored rows',
    log_loss Float64,
    brier Float64,
    accuracy Float64,
    ece Float64 COMMENT 'expected calibration error, top label, 15 bins',
    prior_log_loss Float64 COMMENT 'class-prior baseline',
    last_sign_log_loss Float64 COMMENT 'last-return-sign baseline',
    trades Int64 COMMENT 'non-FLAT signals traded by the signal backtest',
    pnl Float64 COMMENT 'sum of net signal returns (fraction of notional per trade)',
    hit_rate Float64 COMMENT 'share of traded signals with a positive net return'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts_event)
ORDER BY (run_id, scope, exchange, symbol, month, fold, ts_event, id)
COMMENT 'eval.metrics.v1: walk-forward evaluation metrics';
