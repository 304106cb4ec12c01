"""Climate analysis of the preprocess service on real data (navy winds, ERA5 t2m) and synthetic
cases with known answers, computed with real dask."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import pytest
import xarray as xr
from scipy import stats  # type: ignore[import-untyped]

from weather_preprocess.analysis import (
    EQUATORIAL_PACIFIC,
    GLOBAL,
    NINO3,
    NINO4,
    NINO34,
    Region,
    anomalies,
    anomaly_summary,
    area_mean,
    area_mean_summary,
    climatology,
    climatology_summary,
    extremes,
    extremes_summary,
    linear_trend,
    named_region,
    trend_summary,
)

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
NAVY_WINDS = DEMO / "monthly_navy_winds.cdf"
ERA5_T2M = DEMO / "era5-2mt-2019-03-uk.grib"
DAYS_PER_YEAR = 365.2425


def to_canonical(ds: xr.Dataset, renames: dict[str, str], time_chunk: int) -> xr.Dataset:
    """What the ingest service produces: canonical names, latitude ascending, longitude in
    [-180, 180) ascending with one copy of each column, float32 variables, dask chunks."""
    ds = ds.rename(renames)
    longitude = ((ds["longitude"] + 180.0) % 360.0) - 180.0
    ds = ds.assign_coords(longitude=longitude).drop_duplicates("longitude", keep="first")
    ds = ds.sortby(["latitude", "longitude"])
    ds = ds.assign({name: variable.astype(np.float32) for name, variable in ds.data_vars.items()})
    return ds.chunk({"time": time_chunk, "latitude": -1, "longitude": -1})


def require_file(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"demo data {path.name} is not present")
    return path


@pytest.fixture(scope="module")
def navy_winds() -> Iterator[xr.Dataset]:
    with xr.open_dataset(require_file(NAVY_WINDS)) as raw:
        ds = raw.load()
    yield to_canonical(ds, {"TIME": "time", "FNOCY": "latitude", "FNOCX": "longitude"}, 24)


@pytest.fixture(scope="module")
def era5_t2m() -> Iterator[xr.Dataset]:
    pytest.importorskip("cfgrib")
    with xr.open_dataset(
        require_file(ERA5_T2M), engine="cfgrib", backend_kwargs={"indexpath": ""}
    ) as raw:
        ds = raw.drop_vars(["valid_time", "number", "step", "surface"], errors="ignore").load()
    yield to_canonical(ds, {}, 168)


def is_lazy(ds: xr.Dataset) -> bool:
    return all(variable.chunks is not None for variable in ds.data_vars.values())


def period_mean(series: xr.DataArray, start: str, end: str) -> float:
    return float(series.sel(time=slice(start, end)).mean())


def test_canonical_navy_winds_cover_the_globe_once(navy_winds: xr.Dataset) -> None:
    lon = navy_winds["longitude"].values
    assert navy_winds.sizes == {"time": 132, "latitude": 73, "longitude": 144}
    assert lon[0] == -180.0 and lon[-1] == 177.5 and np.all(np.diff(lon) == 2.5)
    assert navy_winds["UWND"].dtype == np.float32 and is_lazy(navy_winds)


def test_el_nino_and_la_nina_show_in_equatorial_pacific_zonal_wind(navy_winds: xr.Dataset):
    """Westerly (positive) UWND anomalies over NINO4 (5S-5N, 160E-150W, across the dateline)
    in the 1982-83 and 1987 El Ninos, easterly ones in the 1988-89 La Nina.

    Measured: series std 1.10 m/s; 1982-09..1983-02 +1.93 m/s (1.8 std);
    1987-01..1987-09 +1.02 m/s (0.9 std); 1988-06..1989-03 -2.03 m/s (-1.9 std).
    """
    clim = climatology(navy_winds, "month", base_period=("1982-01", "1992-12"))
    series = area_mean(anomalies(navy_winds, clim), NINO4)
    assert is_lazy(series)
    uwnd = series["UWND"].compute()
    std = float(uwnd.std())
    el_nino_1982 = period_mean(uwnd, "1982-09", "1983-02")
    el_nino_1987 = period_mean(uwnd, "1987-01", "1987-09")
    la_nina_1988 = period_mean(uwnd, "1988-06", "1989-03")
    print(f"NINO4 UWND anomaly std {std:.2f}, 1982-83 {el_nino_1982:+.2f}, ", end="")
    print(f"1987 {el_nino_1987:+.2f}, 1988-89 {la_nina_1988:+.2f} m/s")
    assert 0.5 < std < 2.0
    assert el_nino_1982 > max(1.0, std)
    assert el_nino_1987 > max(0.6, 0.5 * std)
    assert la_nina_1988 < -max(1.0, std)
    assert series["UWND"].attrs["units"] == "M/S"
    assert series.attrs["region_grid_points"] == 5 * 21


def test_monthly_climatology_matches_numpy(navy_winds: xr.Dataset) -> None:
    clim = climatology(navy_winds, "month")
    assert is_lazy(clim)
    assert clim["month"].values.tolist() == list(range(1, 13))
    assert clim["UWND"].attrs["units"] == "M/S" and clim.attrs["climatology_by"] == "month"
    point = {"latitude": 0.0, "longitude": -150.0}
    computed = clim["UWND"].sel(point).values
    values = navy_winds["UWND"].sel(point).values
    months = pd.DatetimeIndex(navy_winds["time"].values).month
    expected = [values[months == month].mean(dtype=np.float64) for month in range(1, 13)]
    np.testing.assert_allclose(computed, expected, rtol=1e-5, atol=1e-5)


def test_anomalies_average_to_zero_over_the_base_period(navy_winds: xr.Dataset) -> None:
    base = ("1982-01", "1986-12")
    clim = climatology(navy_winds, "month", base_period=base)
    assert clim.attrs["climatology_time_steps"] == 60
    departures = anomalies(navy_winds, clim)
    assert is_lazy(departures) and departures["UWND"].chunks == navy_winds["UWND"].chunks
    assert departures.sizes == navy_winds.sizes and departures["VWND"].attrs["units"] == "M/S"
    in_base = departures.sel(time=slice(*base)).groupby("time.month").mean("time").compute()
    for name in ("UWND", "VWND"):
        assert float(np.abs(in_base[name]).max()) < 1e-4
    after = departures.sel(time=slice("1987-01", None)).groupby("time.month").mean("time")
    assert float(np.abs(after["UWND"]).max()) > 0.5  # outside the base period: not zero
    summary = anomaly_summary(departures.sel(time=slice(*base)))
    assert abs(summary["UWND_mean"]) < 1e-4 and summary["UWND_rms"] > 0.5


def synthetic_series(slope: np.ndarray, years: int, rng: np.random.Generator) -> xr.Dataset:
    """Monthly values slope * t + 3 + N(0, 1) on a (lat, lon) grid, t in years."""
    time = pd.date_range("1990-01-01", periods=12 * years, freq="MS")
    t = ((time - time[0]) / pd.Timedelta(days=1)).to_numpy() / DAYS_PER_YEAR
    noise = rng.standard_normal((t.size, *slope.shape))
    values = slope[None] * t[:, None, None] + 3.0 + noise
    lat = np.linspace(-60, 60, slope.shape[0])
    lon = np.linspace(-180, 180, slope.shape[1], endpoint=False)
    da = xr.DataArray(
        values.astype(np.float32),
        dims=("time", "latitude", "longitude"),
        coords={"time": time, "latitude": lat, "longitude": lon},
        attrs={"units": "K"},
    )
    return xr.Dataset({"tas": da}).chunk({"time": 60, "latitude": 10, "longitude": -1})


def test_linear_trend_recovers_a_known_slope() -> None:
    rng = np.random.default_rng(7)
    true_slope = np.linspace(0.2, 1.0, 20 * 30).reshape(20, 30)
    ds = synthetic_series(true_slope, years=20, rng=rng)
    kept = xr.DataArray(rng.random(ds["tas"].shape) > 0.1, dims=ds["tas"].dims)
    ds = ds.where(kept)  # 10 % missing
    trend = linear_trend(ds, per="year")
    assert is_lazy(trend)
    assert trend["tas_slope"].attrs["units"] == "K per year"
    result = trend.compute()
    error = (result["tas_slope"] - true_slope) / result["tas_stderr"]
    assert float(np.abs(error).max()) < 5.0
    assert float(np.abs(result["tas_slope"] - true_slope).max()) < 0.05
    assert float(result["tas_pvalue"].max()) < 1e-10
    assert int(result["tas_count"].min()) < 240 and int(result["tas_count"].max()) <= 240
    # scipy's linregress on the valid pairs of a few points agrees on every statistic
    t = ((ds["time"] - ds["time"][0]) / np.timedelta64(1, "D")).values / DAYS_PER_YEAR
    values = ds["tas"].values
    for i, j in [(0, 0), (7, 13), (19, 29)]:
        valid = ~np.isnan(values[:, i, j])
        fit = stats.linregress(t[valid], values[valid, i, j].astype(np.float64))
        point = result.isel(latitude=i, longitude=j)
        np.testing.assert_allclose(float(point["tas_slope"]), fit.slope, rtol=1e-9)
        np.testing.assert_allclose(float(point["tas_stderr"]), fit.stderr, rtol=1e-6)
    weak = synthetic_series(np.full((2, 2), 0.1), 20, rng).isel(time=slice(0, 36))
    fit = stats.linregress(t[:36], weak["tas"].values[:, 0, 0].astype(np.float64))
    weak_trend = linear_trend(weak).compute()
    np.testing.assert_allclose(float(weak_trend["tas_pvalue"][0, 0]), fit.pvalue, rtol=1e-6)
    np.testing.assert_allclose(float(weak_trend["tas_tstat"][0, 0]), fit.slope / fit.stderr)
    decade = linear_trend(ds, per="decade")["tas_slope"].compute()
    np.testing.assert_allclose(decade, 10 * result["tas_slope"], rtol=1e-9)
    summary = trend_summary(trend)
    assert (
        summary["tas_significant_fraction"] == pytest.approx(1.0)
        and 0.5 < summary["tas_slope_mean"] < 0.7
    )


def test_linear_trend_p_values_are_uniform_on_noise() -> None:
    rng = np.random.default_rng(11)
    trend = linear_trend(synthetic_series(np.zeros((50, 80)), years=5, rng=rng)).compute()
    pvalues = trend["tas_pvalue"].values.ravel()
    assert pvalues.size == 4000
    fraction = float(np.mean(pvalues < 0.05))
    print(f"fraction of p < 0.05 on noise: {fraction:.4f}")
    assert 0.02 < fraction < 0.09
    assert 0.45 < float(np.mean(pvalues < 0.5)) < 0.55
    assert stats.kstest(pvalues, "uniform").pvalue > 0.001


def test_linear_trend_edge_cases() -> None:
    time = pd.date_range("2001-01-01", periods=6, freq="365D")
    values = np.full((6, 1, 4), np.nan, dtype=np.float32)
    values[:2, 0, 1] = [1.0, 2.0]  # two valid steps: slope only
    values[:, 0, 2] = 5.0 + 2.0 * np.arange(6)  # exact line
    values[:, 0, 3] = 4.0  # constant: no trend
    ds = xr.Dataset(
        {"x": (("time", "latitude", "longitude"), values)},
        coords={"time": time, "latitude": [0.0], "longitude": [0.0, 1.0, 2.0, 3.0]},
    ).chunk({"time": 3})
    result = linear_trend(ds).compute().isel(latitude=0)
    assert result["x_count"].values.tolist() == [0, 2, 6, 6]
    assert np.isnan(result["x_slope"][0]) and np.isnan(result["x_pvalue"][0])
    per_step = 365.2425 / 365  # one step of 365 days in years
    assert result["x_slope"][1] == pytest.approx(per_step, rel=1e-12)
    assert np.isnan(result["x_pvalue"][1]) and np.isnan(result["x_stderr"][1])
    assert result["x_slope"][2] == pytest.approx(2.0 * per_step, rel=1e-12)
    assert result["x_stderr"][2] < 1e-6 and result["x_pvalue"][2] < 1e-12
    assert result["x_slope"][3] == pytest.approx(0.0, abs=1e-12)


def test_linear_trend_matches_polyfit_on_navy_winds(navy_winds: xr.Dataset) -> None:
    trend = linear_trend(navy_winds[["UWND"]])
    assert is_lazy(trend)
    result = trend.compute()
    t = ((navy_winds["time"] - navy_winds["time"][0]) / np.timedelta64(1, "D")).values
    for point in [(0.0, -150.0), (-40.0, 60.0), (52.5, 0.0), (-2.5, 170.0)]:
        lat, lon = point
        series = navy_winds["UWND"].sel(latitude=lat, longitude=lon).values.astype(np.float64)
        expected = np.polyfit(t / DAYS_PER_YEAR, series, 1)[0]
        computed = float(result["UWND_slope"].sel(latitude=lat, longitude=lon))
        np.testing.assert_allclose(computed, expected, rtol=1e-6, atol=1e-9)


def tiny_grid() -> xr.Dataset:
    values = np.arange(2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4)
    values[1, 1, 2] = np.nan
    return xr.Dataset(
        {"v": (("time", "latitude", "longitude"), values, {"units": "m"})},
        coords={
            "time": pd.date_range("2020-01-01", periods=2, freq="D"),
            "latitude": [-60.0, -30.0, 0.0, 45.0],
            "longitude": [-180.0, -90.0, 0.0, 90.0],
        },
    ).chunk({"time": 1})


def test_area_mean_is_the_cos_latitude_weighted_mean() -> None:
    ds = tiny_grid()
    box = Region(-30.0, 45.0, -90.0, 0.0)
    result = area_mean(ds, box)
    assert is_lazy(result) and result["v"].attrs["units"] == "m"
    computed = result["v"].values
    values = ds["v"].values[:, 1:4, 1:3].astype(np.float64)
    weights = np.broadcast_to(np.cos(np.deg2rad([-30.0, 0.0, 45.0]))[:, None], (3, 2))
    for step in range(2):
        valid = ~np.isnan(values[step])
        expected = (values[step][valid] * weights[valid]).sum() / weights[valid].sum()
        assert computed[step] == pytest.approx(expected, rel=1e-12)
    everywhere = area_mean(ds, GLOBAL)["v"].values
    weights = np.broadcast_to(np.cos(np.deg2rad(ds["latitude"].values))[:, None], (4, 4))
    expected = np.nansum(ds["v"].values[0] * weights) / weights.sum()
    assert everywhere[0] == pytest.approx(expected, rel=1e-6)
    summary = area_mean_summary(result)
    assert summary["v_max"] == pytest.approx(max(computed)) and "v_std" in summary


def test_area_mean_box_across_the_dateline_in_either_convention() -> None:
    lon = np.arange(-180.0, 180.0, 2.5)
    lat = np.array([-10.0, -5.0, 0.0, 5.0, 10.0])
    east = np.where(lon < 0, lon + 360.0, lon)  # 0..360 longitude as the value
    field = np.broadcast_to(east, (3, lat.size, lon.size)).astype(np.float32)
    ds = xr.Dataset(
        {"east": (("time", "latitude", "longitude"), field)},
        coords={
            "time": pd.date_range("2020", periods=3, freq="D"),
            "latitude": lat,
            "longitude": lon,
        },
    ).chunk({"time": 1})
    negative = area_mean(ds, Region(-5.0, 5.0, 160.0, -150.0))
    positive = area_mean(ds, Region(-5.0, 5.0, 160.0, 210.0))
    assert negative.attrs["region_grid_points"] == positive.attrs["region_grid_points"] == 3 * 21
    np.testing.assert_allclose(negative["east"].values, 185.0, rtol=1e-6)
    np.testing.assert_allclose(positive["east"].values, negative["east"].values)
    nino34 = area_mean(ds, NINO34)["east"].values
    np.testing.assert_allclose(nino34, 360.0 - 145.0, rtol=1e-6)  # 190..240 east
    assert area_mean(ds, NINO4).attrs["region_grid_points"] == 3 * 21
    assert area_mean(ds, NINO3).attrs["region_grid_points"] == 3 * 25
    assert area_mean(ds, EQUATORIAL_PACIFIC).attrs["region_grid_points"] == 5 * 65
    assert named_region("nino3.4") == NINO34 and named_region("Global") == GLOBAL
    with pytest.raises(ValueError, match="no grid point"):
        area_mean(ds, Region(40.0, 50.0, 0.0, 10.0))
    with pytest.raises(ValueError, match="lat_min"):
        Region(10.0, -10.0, 0.0, 10.0)
    with pytest.raises(ValueError, match="unknown region"):
        named_region("atlantis")
    with pytest.raises(ValueError, match="longitude"):
        area_mean(ds.assign_coords(longitude=lon + 180.0), NINO4)


def test_extremes_match_numpy(navy_winds: xr.Dataset) -> None:
    ds = navy_winds.isel(time=slice(0, 120))
    ds = ds.where(xr.DataArray(np.arange(120) % 7 != 3, dims="time"))  # missing steps
    percentiles = (5.0, 50.0, 90.0, 99.0)
    thresholds = {"UWND": [-5.0, 0.0, 8.0], "VWND": [3.0]}
    result = extremes(ds, percentiles, thresholds)
    assert is_lazy(result)
    computed = result.compute()
    assert computed["UWND_percentile"].attrs["units"] == "M/S"
    for lat, lon in [(0.0, -150.0), (-50.0, 100.0), (60.0, -30.0)]:
        point = computed.sel(latitude=lat, longitude=lon)
        for name in ("UWND", "VWND"):
            series = ds[name].sel(latitude=lat, longitude=lon).values
            np.testing.assert_allclose(
                point[f"{name}_percentile"].values,
                np.nanpercentile(series, percentiles),
                rtol=1e-5,
                atol=1e-5,
            )
            counts = [np.sum(series > level) for level in thresholds[name]]
            assert point[f"{name}_exceedances"].values.tolist() == counts
            assert int(point[f"{name}_valid_count"]) == np.count_nonzero(~np.isnan(series))
    summary = extremes_summary(result)
    assert set(summary) >= {"UWND_p99_max", "UWND_above_0_frequency", "VWND_above_3_frequency"}
    assert 0.0 < summary["UWND_above_8_frequency"] < summary["UWND_above_0_frequency"] < 1.0
    with pytest.raises(ValueError, match="outside"):
        extremes(ds, (101.0,))


def test_hour_of_day_climatology_of_era5_t2m(era5_t2m: xr.Dataset) -> None:
    """Measured over England (51-54N, 3W-0): coldest 05 UTC 5.9 C, warmest 15 UTC 10.5 C,
    range 4.65 K; over the whole (mostly sea) domain the range is 2.07 K."""
    assert era5_t2m.sizes == {"time": 744, "latitude": 33, "longitude": 49}
    clim = climatology(era5_t2m, "hour")
    assert is_lazy(clim) and clim["hour"].values.tolist() == list(range(24))
    assert clim["t2m"].attrs["units"] == "K"
    cycle = area_mean(clim, Region(51.0, 54.0, -3.0, 0.0, name="England"))["t2m"].compute()
    diurnal_range = float(cycle.max() - cycle.min())
    print(f"England t2m diurnal range {diurnal_range:.2f} K")
    assert 2.5 < diurnal_range < 10.0
    assert 11 <= int(cycle.argmax("hour")) <= 17 and int(cycle.argmin("hour")) <= 8
    afternoon = float(cycle.sel(hour=slice(12, 16)).mean())
    night = float(cycle.sel(hour=slice(0, 6)).mean())
    assert afternoon > night + 2.0
    summary = climatology_summary(clim)
    assert 1.0 < summary["t2m_cycle_amplitude"] < diurnal_range
    assert 270.0 < summary["t2m_mean"] < 290.0


def test_bad_input_is_refused(navy_winds: xr.Dataset) -> None:
    with pytest.raises(ValueError, match="calendar key"):
        climatology(navy_winds, "week")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="selects no time step"):
        climatology(navy_winds, base_period=("2000-01", "2001-01"))
    summer = climatology(navy_winds.sel(time=navy_winds["time.month"].isin([6, 7, 8])))
    with pytest.raises(ValueError, match="lacks month values"):
        anomalies(navy_winds, summer)
    with pytest.raises(ValueError, match="time"):
        linear_trend(navy_winds.isel(time=0, drop=True))
