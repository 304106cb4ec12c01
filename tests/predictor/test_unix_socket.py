"""The predictor reaches a model server in its pod over a Unix socket (--grpc_socket_path)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from google.protobuf import text_format

from tests.modelserver.support import model_config, server_config, start_modelserver
from tests.predictor.conftest import FORECAST
from tests.predictor.support import (
    INIT,
    RunningPredictor,
    gridded,
    model_output,
    predict_request,
    to_array,
    window,
)


def test_predict_through_a_unix_socket(
    model_root: Path, tmp_path: Path, predictors: Callable[..., RunningPredictor]
) -> None:
    config = server_config(
        model_config(FORECAST, model_root / FORECAST, policy="all {}", labels={"production": 1})
    )
    config_file = tmp_path / "models.config"
    config_file.write_text(text_format.MessageToString(config))
    socket = tmp_path / "tfs.sock"
    own = start_modelserver(model_config_file=str(config_file), grpc_socket_path=str(socket))
    try:
        assert socket.is_socket()
        predictor = predictors(modelserver_address=f"unix:{socket}")
        values = window(8)
        response = predictor.stub.Predict(predict_request(fields=[gridded(values)]), timeout=30)
        assert response.provenance.model_version == 1
        np.testing.assert_allclose(
            to_array(response.outputs[0]), model_output(values, INIT, 1.0, 1.0), rtol=1e-5
        )
    finally:
        own.stop()
