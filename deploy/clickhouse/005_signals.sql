-- ens.signals.v1 -> qt.signals
-- members (array of records) is stored as parallel arrays members_<field> (use ARRAY JOIN to get one row per member);
-- market and regime (records) are flattened as market_<field> and regime_<field>.
CREATE TABLE IF NOT EXISTS qt.signals
(
    id String COMMENT 'deterministic event id',
    ts_event DateTime64(3, 'UTC'),
    ts_init DateTime64(3, 'UTC'),
    exchange LowCardinality(String),
    symbol LowCardinality(String),
    feature_id String COMMENT 'id of the feature vector (qt.feature_vectors.id)',
    p_down Float64,
    p_flat Float64,
    p_up Float64,
    signal LowCardinality(String) COMMENT 'LONG, SHORT or FLAT',
    confidence Float64 COMMENT 'LONG/SHORT: P(side) / (P(UP) + P(DOWN)); FLAT: P(FLAT); 0..1',
    members_member Array(LowCardinality(String)) COMMENT 'acting members, parallel to the other members_ arrays',
    members_model_version Array(LowCardinality(String)),
    members_weight Array(Float64) COMMENT 'normalised weight in force for this vote',
    members_p_down Array(Float64),
    members_p_flat Array(Float64),
    members_p_up Array(Float64),
    supervisor LowCardinality(String) COMMENT 'supervisor verdict: OK, BIAS, DRIFT or UNHEALTHY',
    supervisor_reason String COMMENT 'why, empty when OK',
    market_close Float64,
    market_atr_pct Float64 COMMENT 'ATR as a fraction of close',
    market_realized_vol Float64 COMMENT 'realised volatility of 1-bar log returns',
    market_rsi Float64 COMMENT 'RSI, 0..100',
    market_ema_ratio Float64 COMMENT 'fast EMA / slow EMA - 1',
    market_ret Float64 COMMENT 'log return over the medium horizon',
    supervisor_action LowCardinality(String) COMMENT 'NONE, OBSERVE, or BLOCK (entries in the direction of this signal blocked)',
    regime_volatility LowCardinality(String) COMMENT 'LOW, NORMAL or HIGH: the symbol''s volatility regime',
    regime_trend LowCardinality(String) COMMENT 'UP, DOWN or RANGE: the symbol''s trend regime',
    regime_market_volatility LowCardinality(String) COMMENT 'market-wide volatility regime',
    regime_market_trend LowCardinality(String) COMMENT 'market-wide trend regime'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts_event)
ORDER BY (exchange, symbol, ts_event, id)
COMMENT 'ens.signals.v1: weighted ensemble votes with the supervisor verdict';
