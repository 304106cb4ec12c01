"""The SavedModel: the physical serving signature, same outputs as Keras, metadata, warm-up."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from tests.trainer.conftest import TINY_CNN
from weather_trainer import export, pipeline, scoring
from weather_trainer.data import TrainingData
from weather_trainer.features import CLIMATOLOGY_FOLD, INIT_TIME, LEAD_HOURS
from weather_trainer.model import ForecastContext
from weather_trainer.models import FAMILIES


def _randomised(model: keras.Model, seed: int) -> keras.Model:
    rng = np.random.default_rng(seed)
    for variable in model.trainable_weights:
        shape = tuple(variable.shape)
        variable.assign(rng.normal(0.0, 0.05, shape).astype(np.float32))
    return model


def test_the_saved_model_gives_the_keras_outputs_on_physical_inputs(
    training_data: TrainingData, tiny_context: ForecastContext, tmp_path: Path
) -> None:
    model = _randomised(FAMILIES["cnn"].build(tiny_context, TINY_CNN), 11)
    inputs_info, outputs_info = export.export(model, tiny_context, tmp_path / "sm", {"a": 1})
    test = pipeline.split_samples(training_data, tiny_context, "test")
    inputs, _ = test.read_block(test.pairs[::37])
    expected = scoring.predict(model, inputs)["t2m"]
    forecast = export.load_forecast(tmp_path / "sm")
    served = forecast(**{k: tf.constant(v) for k, v in inputs.items() if k != CLIMATOLOGY_FOLD})[
        "t2m"
    ].numpy()
    assert served.shape == expected.shape == (len(inputs[LEAD_HOURS]), 33, 49)
    assert 250 < served.mean() < 300  # physical units (K)
    np.testing.assert_allclose(served, expected, rtol=0, atol=1e-3)
    assert [i.name for i in inputs_info] == ["t2m", INIT_TIME, LEAD_HOURS]
    assert outputs_info[0].shape == (-1, 33, 49)


def test_the_signature_and_its_assets(tiny_context: ForecastContext, tmp_path: Path) -> None:
    model = FAMILIES["persistence"].build(tiny_context, {})
    target = tmp_path / "sm"
    export.export(model, tiny_context, target, {"family": "persistence", "stats_hash": "x"})
    loaded = tf.saved_model.load(str(target))
    signature = loaded.signatures["serving_default"]
    _, specs = signature.structured_input_signature
    assert {name: (spec.dtype, tuple(spec.shape)) for name, spec in specs.items()} == {
        "t2m": (tf.float32, (None, 4, 33, 49)),
        INIT_TIME: (tf.int64, (None,)),
        LEAD_HOURS: (tf.float32, (None,)),
    }
    assert json.loads((target / "assets" / "metadata.json").read_text())["stats_hash"] == "x"
    records = list(tf.data.TFRecordDataset(str(target / "assets.extra" / export.WARMUP)))
    assert 1 <= len(records) <= 1000
    log = prediction_log_pb2.PredictionLog.FromString(records[0].numpy())
    request = log.predict_log.request
    assert request.model_spec.signature_name == "serving_default"
    assert set(request.inputs) == {"t2m", INIT_TIME, LEAD_HOURS}
    example = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
    out = signature(**{k: tf.constant(v) for k, v in example.items()})["t2m"].numpy()
    np.testing.assert_allclose(out[0], example["t2m"][0, -1], atol=1e-3)  # persistence
    assert not target.with_name("sm.partial").exists()
