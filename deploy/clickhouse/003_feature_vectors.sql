-- feat.vectors.v1 -> qt.feature_vectors
CREATE TABLE IF NOT EXISTS qt.feature_vectors
(
    id String COMMENT 'deterministic event id',
    ts_event DateTime64(3, 'UTC') COMMENT 'close time of the bar',
    ts_init DateTime64(3, 'UTC'),
    exchange LowCardinality(String),
    symbol LowCardinality(String),
    bar_id String COMMENT 'id of the bar these features close on (qt.bars.id)',
    open_time DateTime64(3, 'UTC') COMMENT 'open time of that bar',
    close Float64 COMMENT 'close price of that bar',
    feature_set LowCardinality(String) COMMENT 'name and version of the feature set; names the elements of values',
    values Array(Float64) COMMENT 'feature values in the order of the feature set',
    window_length Int32 COMMENT 'L: bars in window',
    window_channels Int32 COMMENT 'C: values per bar in window',
    window Array(Float64) COMMENT 'last L bars, oldest first, row-major L x C'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts_event)
ORDER BY (exchange, symbol, ts_event, id)
COMMENT 'feat.vectors.v1: features of each closed bar';
