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


def _rewrite_label(path, line_no, new):
    lines = open(path, encoding="utf-8").read().split("\n")
    f = lines[line_no - 1].split(",")
    f[-1] = new
    lines[line_no - 1] = ",".join(f)
    open(path, "w", encoding="utf-8").write("\n".join(lines))


def test_reads_the_label_column_and_checks_it_against_make_labels(tmp_path):
    import numpy as np

    from conftest import write_synthetic_csv
    from qt_training.labels import UNKNOWN, LabelSpec, make_labels

    path = write_synthetic_csv(str(tmp_path / "l.csv"), n_bars=200, symbols=("A/USDT",), label_k=0.7, nan_rate=0.01)
    ds = read_dataset(path)
    assert ds.label is not None and ds.label_spec == LabelSpec(horizon=5, k=0.7)
    assert np.array_equal(ds.label, make_labels(ds.fwd_ret, ds.feature("rvol_30"), ds.label_spec))
    assert set(ds.label.tolist()) == {0, 1, 2, UNKNOWN}  # the last H bars have no label
    # take() keeps labels aligned with their rows
    sub = ds.take(ds.label == 2)
    assert (sub.label == 2).all() and len(sub) > 10


def test_a_label_that_disagrees_with_make_labels_is_a_loud_error(tmp_path):
    from conftest import write_synthetic_csv
    from qt_training.dataset import LabelMismatchError

    path = write_synthetic_csv(str(tmp_path / "m.csv"), n_bars=100, symbols=("A/USDT",), label_k=0.5)
    line = open(path).read().split("\n")[9]  # data row 9
    old = line.split(",")[-1]
    _rewrite_label(path, 10, {"0": "1", "1": "2", "2": "0"}[old])
    with pytest.raises(LabelMismatchError, match=r"on 1 of 100 rows: line 10: label"):
        read_dataset(path)
    # an unknown label where make_labels has one is a mismatch too
    _rewrite_label(path, 10, "")
    with pytest.raises(LabelMismatchError, match="line 10"):
        read_dataset(path)


def test_a_label_column_needs_the_label_spec_in_the_meta(tmp_path):
    import json

    from conftest import write_synthetic_csv
    path = write_synthetic_csv(str(tmp_path / "s.csv"), n_bars=80, symbols=("A/USDT",), label_k=0.5)
    json.dump({"horizon": 5, "barMs": 60_000, "featureSet": "fs1"}, open(path + ".meta.json", "w"))
    with pytest.raises(DatasetError, match="no label spec"):
        read_dataset(path)


def test_an_older_export_without_the_label_column_still_reads(tmp_path):
    from conftest import write_synthetic_csv
    ds = read_dataset(write_synthetic_csv(str(tmp_path / "o.csv"), n_bars=80, symbols=("A/USDT",)))
    assert ds.label is None and ds.label_spec is None and len(ds) == 80


def test_reads_the_typescript_export_and_agrees_with_its_labels():
    # fixtures/ts-export.csv is written by pipelines/dataset/export.ts (export.spec.ts keeps it in step): the label
    # column comes from labelOf in TypeScript; read_dataset checks every row against make_labels.
    import os

    from conftest import TRAINING, feature_names
    ds = read_dataset(os.path.join(TRAINING, "tests", "fixtures", "ts-export.csv"))
    assert list(ds.feature_names) == feature_names()
    assert ds.label_spec.horizon == 5 and ds.label_spec.k == 0.5
    labelled = ds.label[ds.label >= 0]
    assert len(labelled) == 2 * (150 - 60 - 5) and len(set(labelled.tolist())) >= 2
