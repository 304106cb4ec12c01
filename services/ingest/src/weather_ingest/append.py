"""Real-time appends: new time steps extend a dataset as one new version, all or nothing.

Rules (tested): steps of one stream may arrive in any order and are committed sorted; a time given
twice in one stream is rejected; every step carries every variable on the dataset's grid; a step
at or before the dataset's last time is rejected unless the policy is SKIP_IDENTICAL and it equals
the stored step, in which case it is skipped. Readers see whole steps only, because a version's
manifest fixes how many steps it has and is written after the data.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass

import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr
import zarr

from weather_data import hashing
from weather_data.archive import Archive
from weather_data.canonical import TIME
from weather_data.manifest import Manifest
from weather_data.store_errors import StoreFull, StoreUnwritable, store_errors
from weather_data.writer import describe, now_iso
from weather_runtime.errors import Aborted, FieldViolation, InvalidArgument

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    """One time step as sent: valid time and one array per variable (grid dims, no time)."""

    time: pd.Timestamp
    fields: dict[str, np.ndarray]


@dataclass(frozen=True)
class AppendOutcome:
    """The manifest after the append and what happened to the steps."""

    manifest: Manifest
    appended: int
    skipped: int


class Appender:
    """Appends steps to datasets of one archive; one append per dataset at a time per process."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)

    def append(
        self,
        dataset_id: str,
        steps: list[Step],
        *,
        expected_version: int,
        skip_identical: bool,
        actor: str,
    ) -> AppendOutcome:
        with self._locks[dataset_id]:
            latest = self.archive.get(dataset_id)
            if expected_version and latest.version != expected_version:
                raise Aborted(
                    f"{dataset_id} is at version {latest.version}, "
                    f"not the expected {expected_version}"
                )
            current = self.archive.open(latest)
            fresh, skipped = self._check(current, steps, skip_identical)
            if not fresh:
                return AppendOutcome(latest, 0, skipped)
            try:
                with store_errors(self.archive.url, f"appending to {dataset_id}"):
                    manifest = self._write(latest, current, fresh, actor)
                    self.archive.commit(manifest)
            except (StoreFull, StoreUnwritable):
                self._shrink(latest, [*map(str, current.data_vars), TIME])
                raise
            return AppendOutcome(manifest, len(fresh), skipped)

    def _shrink(self, latest: Manifest, names: list[str]) -> None:
        """Best effort after an append the store refused: the time arrays back to the committed
        steps (readers never see more than those anyway; the next append resizes again)."""
        try:
            group = zarr.open_group(self.archive.store_url(latest.store_path), mode="r+")
            for name in names:
                array = group[name]
                assert isinstance(array, zarr.Array)
                array.resize((latest.time_steps, *array.shape[1:]))
        except OSError:  # still full or read-only: the next append resizes
            log.warning("could not shrink %s back after a failed append", latest.dataset_id)

    @staticmethod
    def _check(
        current: xr.Dataset, steps: list[Step], skip_identical: bool
    ) -> tuple[list[Step], int]:
        problems: list[FieldViolation] = []
        names = sorted(str(n) for n in current.data_vars)
        times = pd.DatetimeIndex(current[TIME].values)
        last = times[-1]
        seen: dict[pd.Timestamp, int] = {}
        fresh: list[Step] = []
        skipped = 0
        for index, step in enumerate(steps):
            at = f"steps[{index}]"
            if step.time in seen:
                problems.append(
                    FieldViolation(
                        f"{at}.time", f"{step.time.isoformat()} repeats steps[{seen[step.time]}]"
                    )
                )
                continue
            seen[step.time] = index
            given = sorted(step.fields)
            if given != names:
                problems.append(
                    FieldViolation(
                        f"{at}.fields", f"must hold exactly the variables {names}, got {given}"
                    )
                )
                continue
            for name in names:
                expected = tuple(s for d, s in current[name].sizes.items() if d != TIME)
                if step.fields[name].shape != expected:
                    problems.append(
                        FieldViolation(
                            f"{at}.fields[{name!r}]",
                            f"shape {step.fields[name].shape} is not the dataset's {expected}",
                        )
                    )
            if problems:
                continue
            if step.time > last:
                fresh.append(step)
                continue
            stored_at = times.get_indexer([step.time])[0]
            if skip_identical and stored_at >= 0:
                stored = current.isel({TIME: int(stored_at)})
                if all(
                    np.array_equal(
                        stored[n].values, step.fields[n].astype("float32"), equal_nan=True
                    )
                    for n in names
                ):
                    skipped += 1
                    continue
                problems.append(
                    FieldViolation(
                        f"{at}.time", f"{step.time.isoformat()} is stored with other values"
                    )
                )
            else:
                problems.append(
                    FieldViolation(
                        f"{at}.time",
                        f"{step.time.isoformat()} is not after the dataset's last time "
                        f"{last.isoformat()}; appends only extend the time axis",
                    )
                )
        if problems:
            raise InvalidArgument(problems)
        return sorted(fresh, key=lambda s: s.time), skipped

    def _write(
        self, latest: Manifest, current: xr.Dataset, fresh: list[Step], actor: str
    ) -> Manifest:
        url = self.archive.store_url(latest.store_path)
        start = latest.time_steps
        total = start + len(fresh)
        group = zarr.open_group(url, mode="r+")
        for name in [*current.data_vars, TIME]:
            array = group[str(name)]
            assert isinstance(array, zarr.Array)
            array.resize((total, *array.shape[1:]))  # also drops steps of an uncommitted append
        times = np.array([s.time.to_datetime64() for s in fresh], dtype="datetime64[ns]")
        data_vars = {
            name: (
                current[name].dims,
                np.stack([s.fields[str(name)].astype("float32") for s in fresh]),
                current[name].attrs,
            )
            for name in current.data_vars
        }
        new = xr.Dataset(data_vars, coords={TIME: times})
        new.drop_vars(TIME).to_zarr(url, region={TIME: slice(start, total)}, consolidated=False)
        # the time coordinate: encoded exactly as the stored times (same units and calendar)
        encoding = current[TIME].encoding
        encoded, _, _ = xr.coding.times.encode_cf_datetime(
            times, encoding.get("units"), encoding.get("calendar"), encoding.get("dtype")
        )
        time_array = group[TIME]
        assert isinstance(time_array, zarr.Array)
        time_array[start:total] = encoded
        digests = {
            str(n): da.compute(hashing.step_digests(new[n]), scheduler="sync")[0]
            for n in new.data_vars
        }
        state = hashing.fold(hashing.from_text(latest.content_hash), times, digests)
        missing = {
            v.name: v.missing_count + int(np.isnan(new[v.name].values).sum())
            for v in latest.variables
        }
        extended = xr.open_zarr(url, chunks={}, consolidated=False).isel({TIME: slice(0, total)})
        chunks = {d: c for v in latest.variables for d, c in zip(v.dims, v.chunks, strict=True)}
        variables, dimensions, facts = describe(extended, chunks, missing)
        return Manifest(
            dataset_id=latest.dataset_id,
            version=latest.version + 1,
            content_hash=hashing.to_text(state),
            store_path=latest.store_path,
            variables=variables,
            dimensions=dimensions,
            source_uri="append",
            source_format="stream",
            source_size=int(sum(a.nbytes for s in fresh for a in s.fields.values())),
            create_time=now_iso(),
            created_by=actor,
            parent_hash=latest.content_hash,
            **facts,  # type: ignore[arg-type]
        )
