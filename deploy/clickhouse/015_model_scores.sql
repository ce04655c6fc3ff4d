-- model.scores.v1 -> qt.model_scores: every vote (members, shadows, and the ensemble as member 'ensemble') scored on
-- its realised outcome. "How good has xgb been lately":
--   SELECT model_version, count() AS n, avg(log_loss) AS log_loss, avg(hit) AS accuracy
--   FROM qt.model_scores FINAL WHERE member = 'xgb' AND ts_event > now() - INTERVAL 1 DAY GROUP BY model_version
CREATE TABLE IF NOT EXISTS qt.model_scores
(
    id String COMMENT 'deterministic event id',
    ts_event DateTime64(3, 'UTC') COMMENT 'when the outcome became known (the bar after the horizon)',
    ts_init DateTime64(3, 'UTC'),
    exchange LowCardinality(String),
    symbol LowCardinality(String),
    feature_id String COMMENT 'the feature vector voted on (qt.feature_vectors.id)',
    ts_vote DateTime64(3, 'UTC') COMMENT 'ts_event of the vote',
    member LowCardinality(String) COMMENT 'member name, or ensemble',
    model_version LowCardinality(String) COMMENT 'for the ensemble: its champions member@version joined by +',
    role LowCardinality(String) COMMENT 'CHAMPION or SHADOW',
    label LowCardinality(String) COMMENT 'realised class: DOWN, FLAT or UP',
    fwd_ret Float64 COMMENT 'log return over the horizon',
    p_down Float64,
    p_flat Float64,
    p_up Float64,
    log_loss Float64 COMMENT '-ln p(label), p clipped to 1e-7',
    brier Float64 COMMENT 'sum over classes of (p - onehot)^2',
    hit Bool COMMENT 'the most likely class was the label',
    ew_log_loss Float64 COMMENT 'exponentially weighted log loss of the member after this outcome',
    weight Float64 COMMENT 'governance weight after this outcome (0 for shadows, 1 for the ensemble)',
    vol_regime LowCardinality(String) COMMENT 'market-wide volatility regime at the vote: LOW, NORMAL or HIGH'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts_event)
ORDER BY (member, exchange, symbol, ts_event, id)
COMMENT 'model.scores.v1: votes scored on their realised outcomes';
