"""Timestamps between protobuf and pandas (weather_data.manifest_pb)."""

from __future__ import annotations

import pandas as pd
import pytest
from google.protobuf import timestamp_pb2

from weather_data.manifest_pb import pandas_time, timestamp
from weather_runtime.errors import InvalidArgument


def test_a_timestamp_round_trips_as_naive_utc() -> None:
    moment = pd.Timestamp("2019-03-25T06:30:00")
    back = pandas_time(timestamp(moment), "time_range.start")
    assert back == moment and back.tzinfo is None
    assert pandas_time(timestamp("2019-03-25T06:30:00+02:00"), "t") == pd.Timestamp(
        "2019-03-25T04:30:00"
    )


@pytest.mark.parametrize("seconds", [-(2**40), 2**40, -9_300_000_000, 9_300_000_000])
def test_a_time_pandas_cannot_hold_names_its_field(seconds: int) -> None:
    message = timestamp_pb2.Timestamp(seconds=seconds)
    with pytest.raises(InvalidArgument) as caught:
        pandas_time(message, "steps[2].time")
    assert [v.field for v in caught.value.violations] == ["steps[2].time"]
