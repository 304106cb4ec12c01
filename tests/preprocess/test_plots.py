"""weatherctl's forecast pictures and demo_pictures on the ERA5 GRIB (cfgrib: this file runs in
the data-plane pytest process): a real training dataset built from data/recipes/era5-t2m.yaml by
a real preprocess server, the navy-wind analyses run through `weatherctl preprocess analyse`
(with its progress lines), and a persistence forecast of the test week (the suite's reference
forecast, from the archive's values) written by `weatherctl predict forecast`'s NetCDF writer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from google.protobuf import duration_pb2, timestamp_pb2
from matplotlib.axes import Axes
from matplotlib.collections import QuadMesh
from matplotlib.figure import Figure
from weather.common.v1 import field_pb2
from weather.predictor.v1 import predictor_service_pb2 as pb

from tests.cli.test_plots import assert_png
from tests.preprocess.conftest import RunningPreprocess
from weather_data.archive import Archive
from weatherctl import plots
from weatherctl.forecast_commands import write_netcdf
from weatherctl.main import main

ROOT = Path(__file__).resolve().parents[2]
INIT = "2019-03-26T00:00"
LEADS = range(1, 25)
HOUR = 3600


def _build(preprocess: RunningPreprocess, tmp_path: Path) -> str:
    """The demo's training dataset from the demo recipe (source renamed to the seeded era5)."""
    recipe = (ROOT / "data" / "recipes" / "era5-t2m.yaml").read_text()
    path = tmp_path / "recipe.yaml"
    path.write_text(recipe.replace("  dataset_id: era5-t2m\n", "  dataset_id: era5\n"))
    address = ["--preprocess", f"127.0.0.1:{preprocess.port}"]
    assert main([*address, "preprocess", "build", str(path), "--quiet"]) == 0
    return "era5-t2m-train"


def persistence_forecast(archive: Path, dataset_id: str, init: str, path: Path) -> Path:
    """The field at init as the forecast of every lead, as ForecastResponse messages written by
    weatherctl's NetCDF writer (the layout of `weatherctl predict forecast --out`)."""
    store = Archive(str(archive))
    manifest = store.latest(dataset_id)
    assert manifest is not None
    ds = store.open(manifest)
    when = np.datetime64(init, "s")
    seconds = int(when.astype(np.int64))
    field = np.asarray(ds["t2m"].sel(time=when).values, "<f4")
    axes = [
        field_pb2.CoordinateAxis(name=name, values=ds[name].values.tolist())
        for name in ("latitude", "longitude")
    ]
    responses = [
        pb.ForecastResponse(
            lead_time=duration_pb2.Duration(seconds=lead * HOUR),
            valid_time=timestamp_pb2.Timestamp(seconds=seconds + lead * HOUR),
            outputs=[
                field_pb2.GriddedField(
                    variable="t2m",
                    units=ds["t2m"].attrs["units"],
                    shape=list(field.shape),
                    dtype=field_pb2.DATA_TYPE_FLOAT32,
                    data=field.tobytes(),
                    axes=axes,
                )
            ],
            method=pb.FORECAST_METHOD_DIRECT,
            provenance=pb.Provenance(
                model_name="persistence", model_version=1, dataset_hash=manifest.content_hash
            ),
        )
        for lead in LEADS
    ]
    return write_netcdf(responses, timestamp_pb2.Timestamp(seconds=seconds), path)


def reference_rmse(archive: Path, dataset_id: str) -> dict[str, dict[float, float]]:
    """Latitude-weighted RMSE by lead on the test split of persistence and of the training
    split's hour-of-day climatology (the trainer's references), computed with numpy."""
    store = Archive(str(archive))
    manifest = store.latest(dataset_id)
    assert manifest is not None
    ds = store.open(manifest)
    truth = np.asarray(ds["t2m"].values, np.float64)
    hours = ds["time"].dt.hour.values
    train_start, train_stop = (int(x) for x in manifest.extra["train_steps"].split(":"))
    test_start, test_stop = (int(x) for x in manifest.extra["test_steps"].split(":"))
    by_hour = {
        h: truth[train_start:train_stop][hours[train_start:train_stop] == h].mean(0)
        for h in range(24)
    }
    weights = np.cos(np.deg2rad(ds["latitude"].values))[:, None]
    weights = weights / weights.mean()
    result: dict[str, dict[float, float]] = {"persistence": {}, "climatology": {}}
    for lead in LEADS:
        inits = range(test_start, test_stop - lead)
        persistence = [(weights * (truth[i] - truth[i + lead]) ** 2).mean() for i in inits]
        climatology = [
            (weights * (by_hour[hours[i + lead]] - truth[i + lead]) ** 2).mean() for i in inits
        ]
        result["persistence"][float(lead)] = float(np.sqrt(np.mean(persistence)))
        result["climatology"][float(lead)] = float(np.sqrt(np.mean(climatology)))
    return result


def _maps(figure: Figure) -> list[Axes]:
    return [ax for ax in figure.axes if ax.get_label() != "<colorbar>"]


def test_forecast_maps_show_forecast_truth_and_difference_by_lead(
    preprocess: RunningPreprocess, tmp_path: Path
) -> None:
    dataset = _build(preprocess, tmp_path)
    path = persistence_forecast(preprocess.archive, dataset, INIT, tmp_path / "forecast.nc")
    forecast = plots.open_forecast(path)
    truth = plots.open_dataset(str(preprocess.archive), dataset, forecast.attrs["dataset_hash"])
    panels = plots.forecast_panels(forecast, truth)
    assert panels.leads == [1.0, 6.0, 12.0, 24.0]
    assert str(panels.init_time) == "2019-03-26T00:00:00"
    assert [str(t)[:16] for t in panels.valid_times] == [
        "2019-03-26T01:00",
        "2019-03-26T06:00",
        "2019-03-26T12:00",
        "2019-03-27T00:00",
    ]
    at_init = truth["t2m"].sel(time=np.datetime64(INIT)).values.astype(np.float64)
    weights = np.cos(np.deg2rad(truth["latitude"].values))[:, None]
    for row, valid in enumerate(panels.valid_times):
        observed = truth["t2m"].sel(time=valid).values.astype(np.float64)
        np.testing.assert_allclose(panels.difference[row].values, at_init - observed, atol=1e-4)
        expected = np.sqrt(
            (weights * (at_init - observed) ** 2).sum() / (weights.sum() * at_init.shape[1])
        )
        assert panels.rmse[row] == pytest.approx(expected, rel=1e-6)
    figure = plots.forecast_figure(panels)
    maps = _maps(figure)
    assert len(maps) == 12 and len(figure.axes) == 14  # 4 leads x 3 columns, 2 colour bars
    titles = [ax.get_title() for ax in maps]
    assert titles[0] == "forecast +1 h (valid 2019-03-26 01:00)"
    assert titles[1] == "truth 2019-03-26 01:00"
    assert titles[11] == f"forecast - truth (RMSE {panels.rmse[3]:.2f} K)"
    meshes = [next(c for c in ax.collections if isinstance(c, QuadMesh)) for ax in maps]
    np.testing.assert_allclose(
        meshes[5].get_array().reshape(at_init.shape), panels.difference[1].values
    )
    # forecast and truth share one colour scale
    assert {(m.norm.vmin, m.norm.vmax) for i, m in enumerate(meshes) if i % 3 != 2} == {
        (meshes[0].norm.vmin, meshes[0].norm.vmax)
    }
    out = tmp_path / "maps.png"
    address = ["--archive", str(preprocess.archive)]
    assert (
        main(["plot", "forecast", str(path), "--truth", dataset, *address, "--out", str(out)]) == 0
    )
    assert_png(out, (1000, 1000))
    out = tmp_path / "two-leads.png"
    leads = ["--leads", "3,24", "--out", str(out)]
    assert main(["plot", "forecast", str(path), "--truth", dataset, *address, *leads]) == 0
    assert_png(out)
    assert main(["plot", "forecast", str(path), "--truth", dataset, *address, "--leads", "30"]) == 1


def test_rmse_by_lead_draws_each_series(preprocess: RunningPreprocess, tmp_path: Path) -> None:
    dataset = _build(preprocess, tmp_path)
    series = reference_rmse(preprocess.archive, dataset)
    # persistence wins at +1 h, the hour-of-day climatology by +24 h (a real test week)
    assert series["persistence"][1.0] < series["climatology"][1.0]
    assert series["persistence"][24.0] > series["persistence"][1.0]
    figure = plots.rmse_figure(series, "t2m", "K")
    ax = figure.axes[0]
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["persistence", "climatology"]
    for line, name in zip(lines, ("persistence", "climatology"), strict=True):
        assert list(line.get_xdata()) == [float(h) for h in LEADS]  # type: ignore[arg-type]
        assert list(line.get_ydata()) == [series[name][float(h)] for h in LEADS]  # type: ignore[arg-type]
    assert lines[0].get_linestyle() == "--" and lines[1].get_linestyle() == ":"
    assert ax.get_xlabel() == "lead time (h)" and ax.get_ylabel() == "t2m RMSE (K)"
    source = tmp_path / "rmse.json"
    source.write_text(json.dumps(series))
    out = tmp_path / "rmse.png"
    assert main(["plot", "rmse", "--from-file", str(source), "--out", str(out)]) == 0
    assert_png(out)


def test_demo_pictures_of_a_pipeline_run(
    preprocess: RunningPreprocess,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WEATHERCTL_PROGRESS", raising=False)
    dataset = _build(preprocess, tmp_path)
    address = ["--preprocess", f"127.0.0.1:{preprocess.port}"]
    analyses: tuple[tuple[str, str, list[str]], ...] = (
        ("climatology", "navy-clim", []),
        ("area-mean", "navy-nino4", ["--region", "nino4", "--anomalies"]),
        ("trend", "navy-trend", []),
    )
    for kind, output, extra in analyses:
        args = ["preprocess", "analyse", "navy", "--kind", kind, "--variable", "UWND"]
        assert main([*address, *args, *extra, "--output", output]) == 0
        printed = capsys.readouterr()
        assert f"{output} v1" in printed.out
        # progress as plain lines on stderr (no terminal): no redrawing, the end reached
        assert "\r" not in printed.err and "\x1b" not in printed.err
        lines = printed.err.splitlines()
        assert lines and all(line.startswith(f"  {kind} of navy ") for line in lines)
        assert "100.0%" in lines[-1]
    forecast = persistence_forecast(preprocess.archive, dataset, INIT, tmp_path / "forecast.nc")
    rmse = reference_rmse(preprocess.archive, dataset)
    written = plots.demo_pictures(
        str(preprocess.archive),
        tmp_path / "plots",
        training_dataset=dataset,
        forecast_netcdf=forecast,
        rmse_by_lead=rmse,
        winds_dataset="navy",
        climatology_dataset="navy-clim",
        anomaly_dataset="navy-nino4",
        trend_dataset="navy-trend",
    )
    assert list(written) == ["forecast", "rmse", "climatology", "anomaly", "trend"]
    for path in written.values():
        assert path.parent == tmp_path / "plots"
        assert_png(path)
    # without the analyses' ids the wind pictures come from the source dataset itself
    computed = plots.demo_pictures(
        str(preprocess.archive),
        tmp_path / "computed",
        training_dataset=dataset,
        winds_dataset="navy",
    )
    assert list(computed) == ["climatology", "anomaly", "trend"]
    for path in computed.values():
        assert_png(path)
