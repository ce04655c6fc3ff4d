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


def test_window_sidecar_rows_follow_their_csv_rows_through_sort_and_filter(tmp_path):
    import json

    import numpy as np

    from conftest import MINUTE, T0, window_spec, write_synthetic_csv

    symbols = ("B/USDT", "A/USDT")
    path = write_synthetic_csv(str(tmp_path / "w.csv"), n_bars=50, symbols=symbols, window=True, nan_rate=0.01)
    ds = read_dataset(path, with_window=True)
    channels, length = window_spec()
    assert ds.window.shape == (len(ds), length, len(channels)) and ds.window.dtype == np.float32
    assert ds.window_channels == tuple(channels)
    assert len(ds) < 100  # rows with a missing feature were dropped, with their windows
    # the generator wrote each row's index in the file into its window: file order is symbol by symbol
    index = ds.window[:, 0, -1].astype(int)
    assert np.array_equal(ds.open_time, T0 + (index % 50) * MINUTE)
    assert [symbols[i // 50] for i in index] == ds.symbol.tolist()
    # a sidecar that does not match the CSV is refused
    meta = json.load(open(path + ".window.json"))
    meta["rows"] = 99
    json.dump(meta, open(path + ".window.json", "w"))
    with pytest.raises(DatasetError, match="99 window rows"):
        read_dataset(path, with_window=True)
    assert read_dataset(path).window is None  # without the window, the sidecar is not read
