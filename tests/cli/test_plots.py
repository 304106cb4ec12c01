"""weatherctl's pictures and progress on real data: the navy winds NetCDF ingested into an
archive with the ingest code, the preprocess service's climatology, NINO4 anomaly and trend
analyses stored beside it, and PNG files drawn by matplotlib. (The ERA5 forecast maps need
cfgrib and live in tests/preprocess/test_plots.py.)"""

from __future__ import annotations

import struct
import threading
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from matplotlib import colors as mcolors
from matplotlib.collections import PathCollection, QuadMesh
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.patches import Rectangle
from weather.common.v1 import dataset_pb2
from weather.preprocess.v1 import preprocess_service_pb2 as ppb

from tests.preprocess.conftest import DATA, ingest_into
from weather_data.archive import Archive
from weather_data.cluster import DaskRuntime
from weather_preprocess.analyses import Analyst
from weather_preprocess.convert import analysis_request_from_pb
from weatherctl import plots
from weatherctl.main import main
from weatherctl.progress import ProgressBar

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ANALYSES = {
    "navy-winds-climatology": (ppb.ANALYSIS_KIND_CLIMATOLOGY, {}),
    "navy-winds-nino4-anomaly": (
        ppb.ANALYSIS_KIND_AREA_MEAN,
        {"named_region": "nino4", "of_anomalies": True},
    ),
    "navy-winds-trend": (ppb.ANALYSIS_KIND_TREND, {}),
}


def assert_png(path: Path, min_size: tuple[int, int] = (600, 400)) -> np.ndarray:
    """path is a PNG of at least min_size pixels (width, height) with a drawing in it (not one
    colour); returns its pixels."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    assert width >= min_size[0] and height >= min_size[1], (width, height)
    assert 10_000 < path.stat().st_size < 5_000_000
    pixels = imread(path)
    assert pixels.shape[:2] == (height, width)
    assert float(pixels[..., :3].std()) > 0.05, "the picture is (nearly) one colour"
    return np.asarray(pixels)


@pytest.fixture(scope="module")
def navy_archive(tmp_path_factory: pytest.TempPathFactory, dask_runtime: DaskRuntime) -> Path:
    """The navy winds ingested as navy-winds and its three analyses, as the demo stores them."""
    folder = tmp_path_factory.mktemp("plots") / "archive"
    ingest_into(folder, dask_runtime, DATA / "monthly_navy_winds.cdf", "navy-winds")
    analyst = Analyst(Archive(str(folder)), dask_runtime)
    for output, (kind, extra) in ANALYSES.items():
        request = ppb.StartAnalysisRequest(
            source=dataset_pb2.DatasetRef(dataset_id="navy-winds"),
            variables=["UWND"],
            kind=kind,
            output_dataset_id=output,
            **extra,  # type: ignore[arg-type]
        )
        analyst.run(
            analysis_request_from_pb(request), "tester", lambda stage, done: None, threading.Event()
        )
    return folder


def _open(archive: Path, dataset_id: str) -> xr.Dataset:
    return plots.open_dataset(str(archive), dataset_id).load()


def _map_meshes(figure: Figure) -> list[QuadMesh]:
    """The cells drawn on the map axes (not the colour bars')."""
    maps = [ax for ax in figure.axes if ax.get_label() != "<colorbar>"]
    return [c for ax in maps for c in ax.collections if isinstance(c, QuadMesh)]


def test_climatology_map_is_the_annual_mean_or_one_month(navy_archive: Path, tmp_path: Path):
    clim = _open(navy_archive, "navy-winds-climatology")
    assert clim.sizes == {"month": 12, "latitude": 73, "longitude": 144}
    figure = plots.climatology_figure(clim, "UWND")
    [mesh] = _map_meshes(figure)
    expected = clim["UWND"].astype(np.float64).mean("month").values
    np.testing.assert_allclose(mesh.get_array().reshape(73, 144), expected, atol=1e-5)
    title = figure.axes[0].get_title()
    assert "annual mean of the monthly climatology (12 months)" in title
    assert "base period 1982-01-16 to 1992-12-17" in title
    assert figure.axes[1].get_ylabel() == "UWND (m s-1)"  # the colour bar
    # winds of both signs: a diverging scale centred on zero
    norm = mesh.norm
    assert isinstance(norm, mcolors.TwoSlopeNorm) and norm.vmin == -norm.vmax  # type: ignore[operator]
    january = plots.climatology_figure(clim, "UWND", month=1)
    [mesh] = _map_meshes(january)
    np.testing.assert_allclose(
        mesh.get_array().reshape(73, 144), clim["UWND"].sel(month=1).values, rtol=1e-6
    )
    assert january.axes[0].get_title().startswith("UWND: January climatology")
    path = plots.plot_climatology(clim, tmp_path / "clim.png", "UWND")
    assert path == tmp_path / "clim.png"
    assert_png(path)


def test_anomaly_series_shades_the_enso_episodes_over_their_months(
    navy_archive: Path, tmp_path: Path
) -> None:
    ds = _open(navy_archive, "navy-winds-nino4-anomaly")
    series = plots.series_of(ds, "UWND")
    assert series.dims == ("time",) and series.sizes["time"] == 132
    figure = plots.anomaly_figure(series, plots.ENSO_EPISODES)
    ax = figure.axes[0]
    spans = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(spans) == 3
    expected = [
        ("1982-09-01", "1983-03-01", plots.WARM),
        ("1987-01-01", "1987-10-01", plots.WARM),
        ("1988-06-01", "1989-04-01", plots.COOL),
    ]
    for span, (start, end, colour) in zip(spans, expected, strict=True):
        low, high = span.get_x(), span.get_x() + span.get_width()
        assert low == pytest.approx(plots.date_number(np.datetime64(start)))
        assert high == pytest.approx(plots.date_number(np.datetime64(end)))
        assert mcolors.same_color(span.get_facecolor()[:3], mcolors.to_rgb(colour))
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["El Nino 1982-83", "El Nino 1987", "La Nina 1988-89"]
    [line] = ax.get_lines()[1:]  # after the zero line
    np.testing.assert_allclose(np.asarray(line.get_ydata()), series.values, rtol=1e-6)
    assert ax.get_ylabel() == "UWND anomaly (m s-1)"
    assert "NINO4" in ax.get_title() and "1982-01 to 1992-12" in ax.get_title()
    # the series itself: westerly in the El Nino episodes, easterly in the La Nina one
    for start, end, colour in expected:
        mean = float(series.sel(time=slice(start, end)).mean())
        assert (mean > 0) == (colour == plots.WARM)
    # episodes without a kind take it from their label (the pipeline file's form)
    three = plots.anomaly_figure(series, [(label, s, e) for label, s, e, _ in plots.ENSO_EPISODES])
    colours = [p.get_facecolor()[:3] for p in three.axes[0].patches if isinstance(p, Rectangle)]
    assert [mcolors.to_hex(c) for c in colours] == [plots.WARM, plots.WARM, plots.COOL]
    assert plots.as_episode(("Westerly burst", "1990-01", "1990-03"))[3] == "other"
    with pytest.raises(ValueError, match="unknown episode kind"):
        plots.as_episode(("La Nina", "1988-06", "1989-03", "lukewarm"))
    assert_png(plots.plot_anomaly(series, tmp_path / "nino4.png"))


def test_trend_map_dots_exactly_the_significant_points(navy_archive: Path, tmp_path: Path):
    trend = _open(navy_archive, "navy-winds-trend")
    pvalue = trend["UWND_pvalue"].values
    significant = int(np.sum(pvalue < 0.05))
    assert 0 < significant < pvalue.size
    panel = plots.trend_panel(trend, "UWND", alpha=0.05)
    assert int(panel.significant.sum()) == significant
    figure = plots.trend_figure(panel)
    [dots] = [c for c in figure.axes[0].collections if isinstance(c, PathCollection)]
    offsets = np.asarray(dots.get_offsets())
    assert len(offsets) == significant
    # every dot sits on a grid point whose p-value is below 0.05
    lat = trend["latitude"].values
    lon = trend["longitude"].values
    rows = np.searchsorted(lat, offsets[:, 1])
    cols = np.searchsorted(lon, offsets[:, 0])
    assert np.all(pvalue[rows, cols] < 0.05)
    [mesh] = _map_meshes(figure)
    np.testing.assert_allclose(
        mesh.get_array().reshape(pvalue.shape), trend["UWND_slope"].values, rtol=1e-6
    )
    assert f"{significant} of {pvalue.size} points" in figure.axes[0].get_title()
    assert figure.axes[1].get_ylabel() == "UWND trend (m s-1 per year)"
    stricter = plots.trend_panel(trend, "UWND", alpha=0.01)
    assert stricter.significant.sum() == np.sum(pvalue < 0.01) < significant
    assert_png(plots.plot_trend(trend, tmp_path / "trend.png", "UWND"))


def test_plot_commands_write_the_pictures_and_print_their_paths(
    navy_archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = ["--archive", str(navy_archive)]
    for kind, dataset in (
        ("climatology", "navy-winds-climatology"),
        ("anomaly", "navy-winds-nino4-anomaly"),
        ("trend", "navy-winds-trend"),
    ):
        out = tmp_path / f"{kind}.png"
        assert main(["plot", kind, dataset, *archive, "--out", str(out)]) == 0
        assert capsys.readouterr().out.strip() == f"wrote {out}"
        assert_png(out)
    # a raw dataset (time axis) makes a climatology map too: grouped by month first
    out = tmp_path / "july.png"
    assert (
        main(["plot", "climatology", "navy-winds", *archive, "--month", "7", "--out", str(out)])
        == 0
    )
    assert_png(out)
    episode = ["--episode", "La Nina 1988-89,1988-06,1989-03,la nina"]
    out = tmp_path / "one-episode.png"
    assert (
        main(["plot", "anomaly", "navy-winds-nino4-anomaly", *archive, *episode, "--out", str(out)])
        == 0
    )
    assert_png(out)
    assert main(["plot", "trend", "no-such-dataset", *archive]) == 1
    assert "no dataset 'no-such-dataset'" in capsys.readouterr().err
    assert main(["plot", "trend", "navy-winds-climatology", *archive]) == 1
    assert "no 'UWND_slope'" in capsys.readouterr().err


def test_progress_prints_plain_lines_when_not_on_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEATHERCTL_PROGRESS", raising=False)
    with ProgressBar("ingest navy", 1.0) as bar:
        for done, stage in ((0.1, "opening"), (0.2, "writing"), (0.3, "writing"), (0.6, "writing")):
            bar.update(done, stage=stage)
        bar.update(1.0, stage="committing")
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b" not in err  # no redrawing, no colour codes
    lines = err.splitlines()
    assert lines == bar.lines
    # a line per stage change and per quarter of the work, and the end
    assert [line.split()[2] for line in lines] == ["opening", "writing", "writing", "committing"]
    assert "100.0%" in lines[-1]
    with ProgressBar("train cnn", None, unit="epochs", plain_step=1) as bar:
        for epoch in range(4):
            bar.update(epoch, total=3, stage="training", detail=f"loss {1 / (epoch + 1):.4f}")
    lines = capsys.readouterr().err.splitlines()
    assert [line.split()[3] for line in lines] == ["0/3", "1/3", "2/3", "3/3"]
    assert lines[-1].endswith("loss 0.2500")
    with ProgressBar("quiet", 10, quiet=True) as bar:
        bar.advance()
    assert capsys.readouterr().err == ""


def test_progress_draws_a_bar_when_asked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEATHERCTL_PROGRESS", "bar")
    with ProgressBar("forecast m@production", 4, unit="inits") as bar:
        for _ in range(4):
            bar.advance(detail="24 forecasts")
    err = capsys.readouterr().err
    assert "\x1b[" in err and "4/4 inits" in err and "forecast m@production" in err
    assert bar.lines == []
    monkeypatch.setenv("WEATHERCTL_PROGRESS", "off")
    with ProgressBar("silent", 4) as bar:
        bar.advance()
    assert capsys.readouterr().err == ""
