"""weather_scores.grid: latitude weights and the per-sample scores on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from weather_scores import grid

# Two latitude rows, weights of mean 1: row 0 counts three times row 1.
W = np.array([1.5, 0.5])


def test_latitude_weights_are_cosines_of_mean_one() -> None:
    np.testing.assert_allclose(grid.latitude_weights([0.0, 60.0]), [4 / 3, 2 / 3])
    np.testing.assert_allclose(grid.latitude_weights(np.array([-60.0, 60.0], np.float32)), [1, 1])
    assert grid.latitude_weights([10, 20]).dtype == np.float64


def test_cos_latitude_is_never_negative() -> None:
    weights = grid.cos_latitude([-90.0, 0.0, 60.0, 90.0, 100.0])
    np.testing.assert_allclose(weights, [0.0, 1.0, 0.5, 0.0, 0.0], atol=1e-15)
    assert (weights >= 0).all()


def test_scores_of_a_known_error() -> None:
    error = np.array([[2.0, -2.0], [1.0, 1.0]])
    # mean over the 4 points of w * x: (1.5 * (4 + 4) + 0.5 * (1 + 1)) / 4
    assert grid.mse(error, W) == pytest.approx(3.25)
    assert grid.rmse(error, W) == pytest.approx(math.sqrt(3.25))
    assert grid.bias(error, W) == pytest.approx((1.5 * 0 + 0.5 * 2) / 4)
    assert grid.mae(error, W) == pytest.approx((1.5 * 4 + 0.5 * 2) / 4)


def test_scores_are_per_sample() -> None:
    error = np.stack([np.full((2, 2), 1.0), np.full((2, 2), 3.0)])  # [sample, lat, lon]
    np.testing.assert_allclose(grid.rmse(error, W), [1.0, 3.0])
    # latitude on axis 1 of [sample, lat, lon, variable]: the variables are kept apart
    stacked = np.stack([error, -2 * error], axis=-1)
    np.testing.assert_allclose(grid.bias(stacked, W, latitude_axis=1), [[1, -2], [3, -6]])


def test_a_missing_value_is_left_out_with_the_weights_renormalised() -> None:
    values = np.array([[2.0, np.nan], [4.0, 6.0]])
    # (1.5 * 2 + 0.5 * 4 + 0.5 * 6) / (1.5 + 0.5 + 0.5)
    assert grid.weighted_mean(values, W) == pytest.approx(3.2)
    error = np.array([[[np.nan, np.nan], [1.0, 3.0]], [[2.0, 2.0], [2.0, 2.0]]])
    np.testing.assert_allclose(grid.rmse(error, W), [math.sqrt(5.0), 2.0])


def test_a_sample_with_nothing_valid_is_nan() -> None:
    values = np.array([np.full((2, 2), np.nan), np.ones((2, 2))])
    result = grid.weighted_mean(values, W)
    assert np.isnan(result[0])
    assert result[1] == pytest.approx(1.0)


def test_acc_of_known_anomalies() -> None:
    f = np.array([[1.0, 0.0], [0.0, 1.0]])
    o = np.array([[1.0, 1.0], [0.0, 0.0]])
    # sum w f'o' = 1.5; sum w f'^2 = 2; sum w o'^2 = 3
    assert grid.acc(f, o, W) == pytest.approx(1.5 / math.sqrt(6))
    assert grid.acc(f, f, W) == pytest.approx(1.0)
    assert grid.acc(2 * f, -f, W) == pytest.approx(-1.0)
    assert grid.acc(np.zeros((2, 2)), o, W) == 0.0  # no variance: 0, not NaN


def test_acc_leaves_out_points_missing_in_either_anomaly() -> None:
    f = np.array([[1.0, 0.0], [0.0, 1.0]])
    o = np.array([[1.0, 1.0], [0.0, np.nan]])
    # f' at (1, 1) is dropped with o': sum w f'o' = 1.5; sum w f'^2 = 1.5; sum w o'^2 = 3
    assert grid.acc(f, o, W) == pytest.approx(1.5 / math.sqrt(4.5))
    assert grid.acc(np.full((2, 2), np.nan), o, W) == 0.0


def test_the_latitude_axis_needs_a_longitude_axis_after_it() -> None:
    with pytest.raises(ValueError, match="longitude"):
        grid.weighted_mean(np.ones((2, 2)), W, latitude_axis=-1)
