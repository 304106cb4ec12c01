"""Our pipeline: ingest (canonical Zarr, hashed), normalisation statistics, monthly climatology."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import xarray as xr
from distributed import Client

from weather_data.archive import Archive
from weather_data.cluster import DaskRuntime
from weather_data.manifest import Manifest
from weather_data.publish import publish
from weather_ingest.ingest import Ingester
from weather_ingest.requests import build_request
from weather_ingest.source import SourceOptions
from weather_preprocess.analysis import climatology
from weather_preprocess.statistics import compute_statistics

DATASET_ID = "bench"


@dataclass
class Ours:
    """The three stages over one archive; each stage's output feeds the next."""

    archive_dir: Path
    source: Path
    runtime: DaskRuntime
    manifest: Manifest | None = None
    statistics: dict[str, tuple[float, float, float, float]] | None = None
    climatology_store: str = ""

    def __post_init__(self) -> None:
        self.archive = Archive(str(self.archive_dir))

    @property
    def client(self) -> Client:
        return self.runtime.client()

    def ingest(self) -> None:
        """NetCDF source to a canonical, chunked and hashed Zarr store with a manifest."""
        request = build_request(
            source_uri=str(self.source),
            dataset_id=DATASET_ID,
            format="",
            variables=[],
            start=None,
            end=None,
            region=None,
            levels=[],
            units={},
            reference_year=0,
            options=SourceOptions(),
        )
        ingester = Ingester(self.archive, self.runtime, [str(self.source.parent)])
        self.manifest = ingester.run(request, "bench", lambda _s, _f: None, threading.Event())

    def dataset(self) -> xr.Dataset:
        assert self.manifest is not None, "ingest first"
        return self.archive.open(self.manifest)

    def compute_statistics(self) -> None:
        """Mean and std of values and one-step differences, the whole dataset as training split."""
        assert self.manifest is not None, "ingest first"
        stats = compute_statistics(
            self.dataset(),
            self.client,
            recipe_hash="sha256:bench",
            input_id=DATASET_ID,
            input_hash=self.manifest.content_hash,
            cancel=threading.Event(),
        )
        self.statistics = {
            e.variable: (e.mean, e.std, e.diff_mean, e.diff_std) for e in stats.entries
        }

    def climatology(self) -> None:
        """Monthly climatology published as a derived dataset, as the analysis service does."""
        clim = climatology(self.dataset(), by="month").astype("float32")
        manifest = publish(
            self.archive,
            self.client,
            clim,
            dataset_id=f"{DATASET_ID}-climatology",
            source_uri=f"{DATASET_ID}@{self.dataset_hash}",
            source_format="preprocess:climatology",
            source_size=0,
            actor="bench",
            progress=lambda _done: None,
            cancel=threading.Event(),
        )
        self.climatology_store = self.archive.store_url(manifest.store_path)

    @property
    def dataset_hash(self) -> str:
        return self.manifest.content_hash if self.manifest else ""

    def store(self) -> str:
        """Path of the ingested Zarr store."""
        assert self.manifest is not None, "ingest first"
        return self.archive.store_url(self.manifest.store_path)
