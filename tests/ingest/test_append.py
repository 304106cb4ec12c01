"""Real-time appends: whole steps, explicit rules for out-of-order and duplicate steps, versions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from google.protobuf import timestamp_pb2
from weather.common.v1 import dataset_pb2, field_pb2, manifest_pb2
from weather.ingest.v1 import ingest_service_pb2 as pb

from tests.ingest.conftest import GRIB, RunningIngest, start_ingest
from tests.registry.helpers import rpc_error, violated_fields
from weather_data.cluster import DaskRuntime

DAY = 86400
START = 1551398400  # 2019-03-01T00:00Z


def _window(days: int) -> dataset_pb2.TimeRange:
    return dataset_pb2.TimeRange(
        start=timestamp_pb2.Timestamp(seconds=START),
        end=timestamp_pb2.Timestamp(seconds=START + days * DAY),
    )


@pytest.fixture(scope="module")
def source() -> xr.Dataset:
    """The ERA5 field as the archive holds it (latitude ascending)."""
    ds = xr.open_dataset(GRIB, engine="cfgrib", backend_kwargs={"indexpath": ""})
    return ds.isel(latitude=slice(None, None, -1)).load()


def _step(source: xr.Dataset, index: int, shift: float = 0.0) -> pb.AppendStepsRequest:
    values = source.t2m.isel(time=index).values.astype("<f4") + np.float32(shift)
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(int(pd.Timestamp(source.time.values[index]).value))
    field = field_pb2.GriddedField(
        variable="t2m",
        units="K",
        shape=list(values.shape),
        dtype=field_pb2.DATA_TYPE_FLOAT32,
        data=values.tobytes(),
    )
    return pb.AppendStepsRequest(step=pb.TimeStep(time=stamp, fields=[field]))


def _stream(
    header: pb.AppendHeader, steps: list[pb.AppendStepsRequest]
) -> Iterator[pb.AppendStepsRequest]:
    yield pb.AppendStepsRequest(header=header)
    yield from steps


def _ingest_days(ingest: RunningIngest, dataset_id: str, days: int) -> manifest_pb2.DatasetManifest:
    done = ingest.run(
        pb.StartIngestRequest(source_uri=str(GRIB), dataset_id=dataset_id, time_range=_window(days))
    )
    return done.result


def test_append_extends_the_chain_to_the_full_ingest_hash(
    ingest: RunningIngest, source: xr.Dataset
) -> None:
    first = _ingest_days(ingest, "live", 10)
    assert first.time_steps == 240
    steps = [_step(source, i) for i in range(240, 264)]
    shuffled = steps[12:] + steps[:12]  # out of order within the stream: committed sorted
    answer = ingest.stub.AppendSteps(
        _stream(pb.AppendHeader(dataset_id="live", expected_version=1), shuffled)
    )
    assert (answer.appended, answer.skipped) == (24, 0)
    second = answer.manifest
    assert (second.version, second.time_steps, second.parent_hash) == (
        2,
        264,
        first.ref.content_hash,
    )
    assert second.time_range.end.ToJsonString() == "2019-03-12T00:00:00Z"
    full = _ingest_days(ingest, "batch", 11)
    assert second.ref.content_hash == full.ref.content_hash, "append and a one-shot ingest disagree"
    stored = xr.open_zarr(second.store_uri, consolidated=False)
    np.testing.assert_array_equal(
        stored.t2m.isel(time=slice(240, 264)).values, source.t2m.values[240:264]
    )
    # a reader of version 1 still sees exactly its 240 whole steps
    assert (
        ingest.stub.GetDataset(pb.GetDatasetRequest(dataset_id="live", version=1)).manifest == first
    )


def test_duplicate_and_late_steps(ingest: RunningIngest, source: xr.Dataset) -> None:
    _ingest_days(ingest, "live", 1)
    header = pb.AppendHeader(dataset_id="live")
    twice = rpc_error(
        ingest.stub.AppendSteps,
        _stream(header, [_step(source, 24), _step(source, 25), _step(source, 24)]),
    )
    assert twice.code() == grpc.StatusCode.INVALID_ARGUMENT and violated_fields(twice) == [
        "steps[2].time"
    ]
    late = rpc_error(
        ingest.stub.AppendSteps, _stream(header, [_step(source, 24), _step(source, 3)])
    )
    assert violated_fields(late) == ["steps[1].time"]
    assert "only extend" in late.details()
    assert ingest.stub.GetDataset(pb.GetDatasetRequest(dataset_id="live")).manifest.version == 1, (
        "a rejected append wrote"
    )

    skip = pb.AppendHeader(dataset_id="live", duplicate_policy=pb.DUPLICATE_POLICY_SKIP_IDENTICAL)
    mixed = ingest.stub.AppendSteps(_stream(skip, [_step(source, 23), _step(source, 24)]))
    assert (mixed.appended, mixed.skipped, mixed.manifest.version) == (1, 1, 2)
    only_old = ingest.stub.AppendSteps(_stream(skip, [_step(source, 5)]))
    assert (only_old.appended, only_old.skipped, only_old.manifest.version) == (0, 1, 2)
    changed = rpc_error(ingest.stub.AppendSteps, _stream(skip, [_step(source, 5, shift=0.5)]))
    assert violated_fields(changed) == ["steps[0].time"] and "other values" in changed.details()


def test_malformed_steps_name_their_field(ingest: RunningIngest, source: xr.Dataset) -> None:
    _ingest_days(ingest, "live", 1)
    header = pb.AppendHeader(dataset_id="live")
    good = _step(source, 24)

    def variant(**change: object) -> pb.AppendStepsRequest:
        message = pb.AppendStepsRequest()
        message.CopyFrom(good)
        for key, value in change.items():
            target = message.step.fields[0]
            if isinstance(value, list):
                target.ClearField(key)
                getattr(target, key).extend(value)
            else:
                setattr(target, key, value)
        return message

    cases = [
        (variant(variable="tp"), "steps[0].fields"),
        (variant(data=good.step.fields[0].data[:-4]), "steps[0].fields[0].data"),
        (variant(dtype=field_pb2.DATA_TYPE_INT32), "steps[0].fields[0].dtype"),
        (variant(shape=[49, 33], data=good.step.fields[0].data), "steps[0].fields['t2m']"),
        (pb.AppendStepsRequest(step=pb.TimeStep(fields=good.step.fields)), "steps[0].time"),
    ]
    for message, field in cases:
        error = rpc_error(ingest.stub.AppendSteps, _stream(header, [message]))
        assert (error.code(), violated_fields(error)) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            [field],
        ), field
    no_header = rpc_error(ingest.stub.AppendSteps, iter([good]))
    assert violated_fields(no_header) == ["header"]
    no_steps = rpc_error(ingest.stub.AppendSteps, _stream(header, []))
    assert violated_fields(no_steps) == ["steps"]
    unknown = rpc_error(
        ingest.stub.AppendSteps, _stream(pb.AppendHeader(dataset_id="ghost"), [good])
    )
    assert unknown.code() == grpc.StatusCode.NOT_FOUND
    stale = rpc_error(
        ingest.stub.AppendSteps,
        _stream(pb.AppendHeader(dataset_id="live", expected_version=3), [good]),
    )
    assert stale.code() == grpc.StatusCode.ABORTED


def test_append_size_limit(tmp_path: Path, dask_runtime: DaskRuntime, source: xr.Dataset) -> None:
    small = start_ingest(tmp_path, dask_runtime, max_append_bytes=20_000)
    try:
        _ingest_days(small, "live", 1)
        error = rpc_error(
            small.stub.AppendSteps,
            _stream(pb.AppendHeader(dataset_id="live"), [_step(source, i) for i in range(24, 30)]),
        )
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert small.stub.GetDataset(pb.GetDatasetRequest(dataset_id="live")).manifest.version == 1
    finally:
        small.server.stop(5)
