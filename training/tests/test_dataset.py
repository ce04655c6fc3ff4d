"""The CSV reader."""

import pytest

from qt_training.dataset import DatasetError, read_dataset


def test_reads_sorts_and_keeps_unknown_labels_as_nan(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("open_time,exchange,symbol,close,a,b,fwd_ret\n"
                 "120000,binance,ETH/USDT,2,0.5,1,\n"
                 "60000,binance,ETH/USDT,1,0.25,2,0.01\n"
                 "60000,binance,BTC/USDT,3,,3,0.02\n"  # a missing feature: dropped
                 "120000,binance,BTC/USDT,4,1e-3,4,-0.5\n")
    ds = read_dataset(str(p))
    assert ds.feature_names == ("a", "b")
    assert ds.open_time.tolist() == [60000, 120000, 120000]
    assert ds.symbol.tolist() == ["ETH/USDT", "BTC/USDT", "ETH/USDT"]
    assert ds.feature("a").tolist() == [0.25, 0.001, 0.5]
    assert ds.fwd_ret[:2].tolist() == [0.01, -0.5]
    assert ds.fwd_ret[2] != ds.fwd_ret[2]  # NaN
    assert ds.meta == {}


def test_refuses_a_foreign_header(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("time,symbol,close,a,label\n1,x,1,1,1\n")
    with pytest.raises(DatasetError):
        read_dataset(str(p))


def test_refuses_a_short_row(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("open_time,exchange,symbol,close,a,fwd_ret\n1,binance,X/Y,1,1\n")
    with pytest.raises(DatasetError, match=":2:"):
        read_dataset(str(p))
