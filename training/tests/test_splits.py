"""Walk-forward splits written by the TypeScript export, read here: the purge and embargo hold on the Python side."""

import glob
import json
import os

import numpy as np
import pytest

from conftest import MINUTE, T0, TRAINING, card_schema_errors, write_synthetic_csv
from qt_training import train as train_cli
from qt_training.split import SplitError, fold_masks, folds_from_json

# Written by pipelines/dataset/splits.ts (splits.spec.ts keeps them in step with walkForwardSplits).
FIXTURES = sorted(glob.glob(os.path.join(TRAINING, "tests", "fixtures", "*.splits.json")))


def test_the_fixtures_are_there():
    assert len(FIXTURES) >= 3


@pytest.mark.parametrize("path", FIXTURES, ids=os.path.basename)
def test_no_training_label_window_overlaps_validation_and_no_training_row_is_embargoed(path):
    s = folds_from_json(path)
    doc = json.load(open(path))
    bar, h, e = s.bar_ms, s.horizon, s.embargo_bars
    # every bar of the range, 3 instruments per bar (as the fixtures' row counts assume), bar 100 without rows
    lo, hi = doc["range"]["fromMs"], doc["range"]["toMs"]
    t = np.repeat(np.arange(lo, hi, bar, dtype=np.int64), 3)
    t = t[t != T0 + 100 * MINUTE]
    earlier_ends = []
    prev_train = None
    for fold in s.folds:
        tr, va = fold_masks(t, fold)
        assert tr.any() and va.any() and not (tr & va).any()
        v_from, v_to = fold.validation
        # label windows [t, t + H bars]: every training window ends before the first validation row's starts (and no
        # training row follows the block, so none starts after the last validation window ends)
        assert (t[tr] + h * bar < v_from).all()
        for end in earlier_ends:
            assert not ((t[tr] >= end) & (t[tr] < end + e * bar)).any()
        # nothing else is dropped: bars before the purge are training unless an embargo holds them
        before_purge = t < v_from - s.purge_bars * bar
        embargoed = np.zeros_like(tr)
        for end in earlier_ends:
            embargoed |= (t >= end) & (t < end + e * bar)
        assert np.array_equal(tr, before_purge & ~embargoed)
        # the counts the export wrote are the rows these masks select
        assert (int(tr.sum()), int(va.sum())) == (fold.train_rows, fold.validation_rows)
        if prev_train is not None:
            assert not (prev_train & ~tr).any()  # expanding
        prev_train = tr
        earlier_ends.append(v_to)
    assert s.folds[-1].validation[1] == hi


def test_train_uses_a_fold_of_the_splits_file(tmp_path):
    csv = write_synthetic_csv(str(tmp_path / "d.csv"), n_bars=1200, symbols=("A/USDT", "B/USDT"), horizon=5, label_k=0.5)
    # a splits file in the export's layout over this dataset: 3 folds of 300 bars after 300, purge 5, embargo 20
    def rng(a, b):
        return {"fromMs": T0 + a * MINUTE, "toMs": T0 + b * MINUTE, "from": "", "to": ""}
    folds = [{"fold": 1, "train": [rng(0, 295)], "validation": rng(300, 600), "trainRows": 590, "validationRows": 600},
             {"fold": 2, "train": [rng(0, 595)], "validation": rng(600, 900), "trainRows": 1190, "validationRows": 600},
             {"fold": 3, "train": [rng(0, 600), rng(620, 895)], "validation": rng(900, 1195), "trainRows": 1750,
              "validationRows": 590}]
    splits = tmp_path / "d.csv.splits.json"
    splits.write_text(json.dumps({"kind": "walk-forward-expanding", "definition": "", "dataset": "d.csv", "horizonBars": 5,
                                  "purgeBars": 5, "embargoBars": 20, "barMs": MINUTE, "range": rng(0, 1195),
                                  "folds": folds}))
    out = str(tmp_path / "xgb" / "f3")
    assert train_cli.main(["--data", csv, "--out", out, "--splits", str(splits), "--fold", "3", "--trees", "10",
                           "--depth", "3", "--threads", "1"]) == 0
    card = json.load(open(os.path.join(out, "card.json")))
    assert card_schema_errors(card) == []
    d = card["data"]
    assert d["split"] == {"kind": "walk-forward-expanding", "file": "d.csv.splits.json", "fold": 3, "folds": 3,
                          "embargoBars": 20}
    assert d["validFromMs"] == T0 + 900 * MINUTE and d["purgeBars"] == 5
    assert (d["train"]["rows"], d["validation"]["rows"]) == (1750, 590)
    assert (d["train"]["fromMs"], d["train"]["toMs"]) == (T0, T0 + 894 * MINUTE)
    assert (d["validation"]["fromMs"], d["validation"]["toMs"]) == (T0 + 900 * MINUTE, T0 + 1194 * MINUTE)
    with pytest.raises(SplitError, match="no fold 4"):
        train_cli.main(["--data", csv, "--out", str(tmp_path / "x"), "--splits", str(splits), "--fold", "4"])
    with pytest.raises(train_cli.TrainError, match="not both"):
        train_cli.main(["--data", csv, "--out", str(tmp_path / "x"), "--splits", str(splits), "--fold", "1",
                        "--valid-from", "2025-05-04T05:00:00Z"])
    with pytest.raises(train_cli.TrainError, match="go together"):
        train_cli.main(["--data", csv, "--out", str(tmp_path / "x"), "--fold", "1"])
