"""When an alias moves, the version that answered (from the model server's response) is reported."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

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


def test_provenance_follows_the_model_servers_answer_after_a_move(
    model_root: Path, tmp_path: Path, predictors: Callable[..., RunningPredictor]
) -> None:
    def config(production: int) -> model_server_config_pb2.ModelServerConfig:
        return server_config(
            model_config(
                FORECAST, model_root / FORECAST, policy="all {}", labels={"production": production}
            )
        )

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
