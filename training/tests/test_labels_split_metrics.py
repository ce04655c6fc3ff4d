"""Labels, split and metrics against values worked out by hand."""

import math

import numpy as np
import pytest

from qt_training.labels import DOWN, FLAT, UNKNOWN, UP, LabelSpec, make_labels
from qt_training.metrics import (accuracy, brier, hard_sign_accuracy, last_return_sign_baseline, log_loss,
                                 prior_baseline)
from qt_training.split import default_valid_from, time_split


def test_labels_use_a_band_of_k_vol_sqrt_h():
    spec = LabelSpec(horizon=4, k=0.5)
    vol = np.full(6, 0.01)  # band = 0.5 * 0.01 * 2 = 0.01
    fwd = np.array([0.0101, 0.0099, -0.0099, -0.0101, 0.0, math.nan])
    assert make_labels(fwd, vol, spec).tolist() == [UP, FLAT, FLAT, DOWN, FLAT, UNKNOWN]


def test_zero_volatility_makes_any_move_directional():
    spec = LabelSpec(horizon=9, k=0.5)
    assert make_labels(np.array([1e-9, -1e-9, 0.0]), np.zeros(3), spec).tolist() == [UP, DOWN, FLAT]


def test_split_purges_the_last_h_bars_before_validation():
    bar = 60_000
    t = np.arange(20) * bar
    train, valid = time_split(t, valid_from=10 * bar, horizon=3, bar_ms=bar)
    # a training row at bar i sees the close of bar i+3 in its label: i + 3 < 10 -> i <= 6
    assert np.flatnonzero(train).tolist() == list(range(0, 7))
    assert np.flatnonzero(valid).tolist() == list(range(10, 20))
    _, valid_to = time_split(t, valid_from=10 * bar, horizon=3, bar_ms=bar, valid_to=12 * bar)
    assert np.flatnonzero(valid_to).tolist() == [10, 11]


def test_default_valid_from_is_bar_aligned():
    bar = 60_000
    assert default_valid_from(np.array([0, 100 * bar]), 0.3, bar) == 70 * bar
    assert default_valid_from(np.array([0, 10 * bar]), 0.25, bar) == 7 * bar  # 7.5 bars floors to 7


def test_uniform_probabilities_score_ln3_and_two_thirds():
    p = np.full((4, 3), 1 / 3)
    y = np.array([0, 1, 2, 2])
    assert log_loss(p, y) == pytest.approx(math.log(3))
    # (1 - 1/3)^2 + 2 * (1/3)^2 = 4/9 + 2/9 = 2/3
    assert brier(p, y) == pytest.approx(2 / 3)


def test_metrics_of_a_sharp_forecast():
    p = np.array([[0.8, 0.1, 0.1], [0.2, 0.2, 0.6]])
    y = np.array([0, 1])
    assert log_loss(p, y) == pytest.approx(-(math.log(0.8) + math.log(0.2)) / 2)
    # row 1: 0.04 + 0.01 + 0.01 = 0.06; row 2: 0.04 + 0.64 + 0.36 = 1.04
    assert brier(p, y) == pytest.approx(0.55)
    assert accuracy(p, y) == 0.5


def test_prior_baseline_repeats_training_frequencies():
    p = prior_baseline(np.array([0, 1, 1, 2]), 2)
    assert p.tolist() == [[0.25, 0.5, 0.25], [0.25, 0.5, 0.25]]


def test_last_return_sign_baseline_conditions_on_the_sign():
    ret_tr = np.array([-1.0, -2.0, 1.0, 3.0, 0.0])
    y_tr = np.array([0, 1, 2, 2, 1])
    p = last_return_sign_baseline(ret_tr, y_tr, np.array([-5.0, 2.0, 0.0]))
    assert p.tolist() == [[0.5, 0.5, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    assert hard_sign_accuracy(np.array([-1.0, 1.0, 0.0, 1.0]), np.array([0, 2, 1, 0])) == 0.75


def test_unseen_sign_falls_back_to_overall_frequencies():
    p = last_return_sign_baseline(np.array([1.0, 1.0]), np.array([2, 0]), np.array([-1.0]))
    assert p.tolist() == [[0.5, 0.0, 0.5]]


def test_expected_calibration_error_by_hand():
    from qt_training.metrics import expected_calibration_error, scores
    # two rows in the 0.8 bin (one right: accuracy 0.5 vs confidence 0.8), two in the 0.4 bin (both right: 1 vs 0.4)
    p = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.4, 0.3, 0.3], [0.3, 0.3, 0.4]])
    y = np.array([0, 0, 0, 2])
    assert expected_calibration_error(p, y) == pytest.approx((2 * 0.3 + 2 * 0.6) / 4)
    # perfectly calibrated: every row at 1/3 confidence, a third right
    assert expected_calibration_error(np.full((3, 3), 1 / 3), np.array([0, 1, 2])) == pytest.approx(0.0)
    assert set(scores(p, y)) == {"logLoss", "brier", "accuracy", "ece"}
