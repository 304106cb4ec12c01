"""When an alias moves, the version that answered (from the model server's response) is reported."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from google.protobuf import duration_pb2, text_format, timestamp_pb2
from tensorflow_serving.config import model_server_config_pb2
from weather.predictor.v1 import predictor_service_pb2 as pb

from tests.modelserver.support import model_config, server_config, start_modelserver
from tests.predictor.conftest import FORECAST
from tests.predictor.support import (
    INIT,
    RunningPredictor,
    gridded,
    model_output,
    predict_request,
    rolled_out,
    to_array,
    window,
)


def _labelled(model_root: Path, production: int) -> model_server_config_pb2.ModelServerConfig:
    """FORECAST with every version loaded and production on the given one."""
    return server_config(
        model_config(
            FORECAST, model_root / FORECAST, policy="all {}", labels={"production": production}
        )
    )


def test_provenance_follows_the_model_servers_answer_after_a_move(
    model_root: Path, tmp_path: Path, predictors: Callable[..., RunningPredictor]
) -> None:
    def config(production: int) -> model_server_config_pb2.ModelServerConfig:
        return _labelled(model_root, production)

    config_file = tmp_path / "models.config"
    config_file.write_text(text_format.MessageToString(config(1)))
    own = start_modelserver(model_config_file=str(config_file))
    try:
        predictor = predictors(modelserver_address=f"127.0.0.1:{own.port}", label_cache_seconds=600)
        values = window(5)
        first = predictor.stub.Predict(predict_request(fields=[gridded(values)]), timeout=30)
        assert first.provenance.model_version == 1
        own.reload(config(2))
        # The predictor's alias cache still says 1; the model server answers with 2.
        moved = predictor.stub.Predict(predict_request(fields=[gridded(values)]), timeout=30)
        assert (moved.provenance.model_version, moved.provenance.alias) == (2, "production")
        np.testing.assert_allclose(
            to_array(moved.outputs[0]), model_output(values, INIT, 1.0, 2.0), rtol=1e-5
        )
    finally:
        own.stop()


def test_a_forecast_stream_keeps_the_version_of_its_first_answer_when_the_alias_moves(
    model_root: Path, tmp_path: Path, predictors: Callable[..., RunningPredictor]
) -> None:
    """The alias moves after the stream's first message, during a 30-step rollout slowed by
    the model server's batch timeout: every step still comes from the version that answered
    first, so a forecast never mixes versions."""

    def config(production: int) -> model_server_config_pb2.ModelServerConfig:
        return _labelled(model_root, production)

    config_file = tmp_path / "models.config"
    config_file.write_text(text_format.MessageToString(config(1)))
    own = start_modelserver(model_config_file=str(config_file), batch_timeout_micros=100_000)
    try:
        predictor = predictors(modelserver_address=f"127.0.0.1:{own.port}")
        values = window(6)
        rollout_hours = 30
        request = pb.ForecastRequest(
            model=pb.ModelSelector(name=FORECAST, alias="production"),
            init_time=timestamp_pb2.Timestamp(seconds=INIT),
            lead_times=[duration_pb2.Duration(seconds=h * 3600) for h in (1, rollout_hours)],
            inline=pb.ForecastInputs(fields=[gridded(values)]),
        )
        stream = predictor.stub.Forecast(request, timeout=120)
        first = next(stream)
        assert first.provenance.model_version == 1
        own.reload(config(2))
        moved_at = time.monotonic()
        last = next(stream)
        arrived_at = time.monotonic()
        assert list(stream) == []
        # the rollout's steps ran after the move (each waits 0.1 s for a batch)
        assert arrived_at - moved_at > 0.5, "the stream ended before the alias moved"
        assert last.provenance.model_version == 1
        np.testing.assert_allclose(
            to_array(last.outputs[0]), rolled_out(values, rollout_hours), rtol=1e-4
        )
        # the move itself took effect: a new request gets version 2
        after = predictor.stub.Predict(predict_request(fields=[gridded(values)]), timeout=30)
        assert after.provenance.model_version == 2
    finally:
        own.stop()
