"""Latitude-weighted scores of gridded forecasts (numpy): weights, MSE / RMSE / bias / MAE, ACC.

WeatherBench 2 definitions. The weights of a latitude axis are w = cos(latitude), normalised to
mean 1 over the axis. Over the grid (a latitude axis followed by a longitude axis) of each sample:
mean_grid w x = sum w x / (n_lat n_lon); ACC = sum w f'o' / sqrt(sum w f'^2 sum w o'^2) for
the anomalies f' and o' of forecast and observation (0 where either has no variance).

Missing values: a NaN in a value is left out, and the weights of what remains are renormalised,
so the mean of a sample is sum(w x over valid) / sum(w over valid) (NaN when nothing is valid).
Without NaN the plain weighted mean above is computed (the same numbers as before NaN handling).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def cos_latitude(latitude: ArrayLike) -> np.ndarray:
    """cos(latitude) of latitudes in degrees as float64, never negative (area of a grid row)."""
    weights = np.cos(np.deg2rad(np.asarray(latitude, dtype=np.float64)))
    return np.clip(weights, 0.0, None)


def latitude_weights(latitude: ArrayLike) -> np.ndarray:
    """cos(latitude), normalised to mean 1 over the axis (float64)."""
    weights = cos_latitude(latitude)
    return np.asarray(weights / weights.mean(), dtype=np.float64)


def _grid_axes(values: np.ndarray, latitude_axis: int) -> tuple[int, int]:
    axis = latitude_axis % values.ndim
    if axis + 1 >= values.ndim:
        raise ValueError(f"latitude axis {latitude_axis} has no longitude axis after it")
    return axis, axis + 1


def _shaped(weights: np.ndarray, values: np.ndarray, axis: int) -> np.ndarray:
    """The latitude weights shaped to broadcast against values along axis."""
    shape = [1] * (values.ndim - axis)
    shape[0] = -1
    return np.asarray(weights).reshape(shape)


def weighted_mean(values: ArrayLike, weights: ArrayLike, latitude_axis: int = -2) -> np.ndarray:
    """The latitude-weighted mean over the grid (latitude_axis and the longitude axis after it)
    of each sample; NaN values are left out with the weights renormalised."""
    x = np.asarray(values)
    lat, lon = _grid_axes(x, latitude_axis)
    w = _shaped(np.asarray(weights), x, lat)
    missing = np.isnan(x)
    if not missing.any():
        return np.asarray((w * x).mean(axis=(lat, lon)))
    valid = ~missing
    total = (w * np.where(valid, x, 0)).sum(axis=(lat, lon))
    norm = (w * valid).sum(axis=(lat, lon))
    return np.asarray(np.where(norm > 0, total / np.where(norm > 0, norm, 1), np.nan))


def mse(error: ArrayLike, weights: ArrayLike, latitude_axis: int = -2) -> np.ndarray:
    """Latitude-weighted mean squared error of each sample."""
    e = np.asarray(error)
    return weighted_mean(e**2, weights, latitude_axis)


def rmse(error: ArrayLike, weights: ArrayLike, latitude_axis: int = -2) -> np.ndarray:
    """Latitude-weighted root mean squared error of each sample."""
    return np.asarray(np.sqrt(mse(error, weights, latitude_axis)))


def bias(error: ArrayLike, weights: ArrayLike, latitude_axis: int = -2) -> np.ndarray:
    """Latitude-weighted mean error (forecast - observation) of each sample."""
    return weighted_mean(error, weights, latitude_axis)


def mae(error: ArrayLike, weights: ArrayLike, latitude_axis: int = -2) -> np.ndarray:
    """Latitude-weighted mean absolute error of each sample."""
    return weighted_mean(np.abs(np.asarray(error)), weights, latitude_axis)


def acc(
    forecast_anomaly: ArrayLike,
    observed_anomaly: ArrayLike,
    weights: ArrayLike,
    latitude_axis: int = -2,
) -> np.ndarray:
    """Anomaly correlation of each sample; points where either anomaly is NaN are left out, and
    a sample without variance in either anomaly scores 0."""
    f, o = np.asarray(forecast_anomaly), np.asarray(observed_anomaly)
    lat, lon = _grid_axes(f, latitude_axis)
    w = _shaped(np.asarray(weights), f, lat)
    missing = np.isnan(f) | np.isnan(o)
    if missing.any():
        w = np.where(missing, 0.0, w)
        f, o = np.where(missing, 0.0, f), np.where(missing, 0.0, o)
    covariance = (w * f * o).sum(axis=(lat, lon))
    norm = np.sqrt((w * f**2).sum(axis=(lat, lon)) * (w * o**2).sum(axis=(lat, lon)))
    return np.asarray(np.where(norm > 0, covariance / np.where(norm > 0, norm, 1), 0))
