"""`weatherctl predict` against a real predictor: model info, forecasts, NetCDF output."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from google.protobuf import duration_pb2

from tests.modelserver.support import VARIABLE
from tests.predictor.conftest import FORECAST
from tests.predictor.support import INIT, LATITUDES, LONGITUDES, RunningPredictor, to_array
from tests.predictor.test_forecast_dataset import DATASET, _build_archive, _request
from weatherctl.forecast_commands import parse_leads
from weatherctl.main import main


def _ctl(predictor: RunningPredictor, *args: str) -> int:
    return main(["--predictor", f"127.0.0.1:{predictor.port}", "predict", *args])


def test_info_prints_the_served_version_grid_and_leads(
    predictor: RunningPredictor, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _ctl(predictor, "info", FORECAST, "--alias", "production") == 0
    out = capsys.readouterr().out
    assert f"{FORECAST} v" in out and "(production)" in out
    assert f"grid        {len(LATITUDES)} x {len(LONGITUDES)}" in out
    assert VARIABLE in out and "float32" in out


def test_forecast_prints_each_lead_and_writes_the_same_values_to_netcdf(
    predictors: Callable[..., RunningPredictor],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _build_archive(tmp_path / "archive")
    predictor = predictors(archive_url=str(tmp_path / "archive"))
    out_file = tmp_path / "forecast.nc"
    init = np.datetime64(INIT, "s")
    code = _ctl(
        predictor,
        "forecast",
        FORECAST,
        "--dataset",
        DATASET,
        "--init",
        str(init),
        "--leads",
        "1,4",
        "--out",
        str(out_file),
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "+1 h" in printed and "+4 h" in printed and "rollout" in printed
    # the file holds exactly what the RPC streams for the same request
    expected = [to_array(r.outputs[0]) for r in predictor.stub.Forecast(_request(INIT), timeout=30)]
    # engine named: guessing it would load every backend, cfgrib (ecCodes) included
    with xr.open_dataset(out_file, engine="netcdf4") as ds:
        np.testing.assert_array_equal(ds[VARIABLE].values, np.stack(expected))
        assert list(ds["lead_time"].values.astype("timedelta64[h]").astype(int)) == [1, 4]
        assert str(ds["valid_time"].values[1].astype("datetime64[s]")) == str(
            init + np.timedelta64(4, "h")
        )
        np.testing.assert_allclose(ds["latitude"].values, LATITUDES)
        assert ds.attrs["model_name"] == FORECAST and ds.attrs["model_version"] >= 1


def test_bad_command_lines_fail_with_a_clear_line(
    predictor: RunningPredictor, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _ctl(predictor, "forecast", FORECAST, "--dataset", "x", "--init", "soon") == 2
    assert "not a time" in capsys.readouterr().err
    code = _ctl(predictor, "forecast", FORECAST, "--dataset", "missing", "--init", "2019-03-25")
    assert code == 1
    assert "NOT_FOUND" in capsys.readouterr().err
    assert _ctl(predictor, "info", "no-such-model") == 1
    assert "NOT_FOUND" in capsys.readouterr().err


def test_lead_syntax() -> None:
    assert parse_leads("1,6,24h") == [duration_pb2.Duration(seconds=h * 3600) for h in (1, 6, 24)]
    assert [d.seconds // 3600 for d in parse_leads("1-3")] == [1, 2, 3]
    with pytest.raises(ValueError):
        parse_leads(" , ")
