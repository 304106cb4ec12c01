"""SavedModel export: a serving signature on physical values, metadata and TF Serving warm-up.

Signature `serving_default` (every family, the same):

- inputs: `<variable>` float32 [batch, input_steps, lat, lon], one per forecast variable, the
  window of past states ending at the init time, oldest first, in physical units (the dataset's,
  e.g. K); `init_time` int64 [batch], the init time in unix seconds (UTC); `lead_hours` float32
  [batch], the lead in hours (a multiple of the model's time step among the trained leads).
- outputs: `<variable>` float32 [batch, lat, lon], the forecast at init_time + lead_hours in
  physical units.

Normalisation, the training-split climatology and the time encodings live inside the graph, so
clients never normalise. `assets/metadata.json` describes the model (variables and units, grid,
time step, window, leads, dataset/recipe/statistics hashes, family, hyperparameters);
`assets.extra/tf_serving_warmup_requests` holds one PredictRequest for TF Serving's warm-up.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras.export import ExportArchive

from weather_data.store_errors import store_errors
from weather_trainer.features import CLIMATOLOGY_FOLD, INIT_TIME, LEAD_HOURS
from weather_trainer.model import ForecastContext
from weather_trainer.spec import TensorInfo

SIGNATURE = "serving_default"
METADATA = "metadata.json"
WARMUP = "tf_serving_warmup_requests"


def signature_inputs(context: ForecastContext) -> dict[str, tf.TensorSpec]:
    """The serving signature's input specs by name."""
    lat, lon = context.grid_shape
    specs = {
        name: tf.TensorSpec([None, context.input_steps, lat, lon], tf.float32, name=name)
        for name in context.variables
    }
    specs[INIT_TIME] = tf.TensorSpec([None], tf.int64, name=INIT_TIME)
    specs[LEAD_HOURS] = tf.TensorSpec([None], tf.float32, name=LEAD_HOURS)
    return specs


def tensor_infos(context: ForecastContext) -> tuple[tuple[TensorInfo, ...], tuple[TensorInfo, ...]]:
    """(inputs, outputs) of the serving signature, -1 for the batch dimension."""
    lat, lon = context.grid_shape
    inputs = [
        TensorInfo(name, "float32", (-1, context.input_steps, lat, lon))
        for name in context.variables
    ]
    inputs += [TensorInfo(INIT_TIME, "int64", (-1,)), TensorInfo(LEAD_HOURS, "float32", (-1,))]
    outputs = tuple(TensorInfo(name, "float32", (-1, lat, lon)) for name in context.variables)
    return tuple(inputs), outputs


def serving_call(model: keras.Model) -> Any:
    """The physical forecast function the signature runs (the climatology fold fixed to -1)."""

    def forecast(inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        fold = tf.fill(tf.shape(inputs[LEAD_HOURS]), tf.constant(-1, tf.int32))
        return dict(model({**inputs, CLIMATOLOGY_FOLD: fold}, training=False))

    return forecast


def warmup_example(context: ForecastContext) -> dict[str, np.ndarray]:
    """One plausible request: a window of climatology means, the first lead."""
    lat, lon = context.grid_shape
    example: dict[str, np.ndarray] = {}
    for i, name in enumerate(context.variables):
        mean = context.climatology[..., i].mean(axis=0)
        example[name] = np.broadcast_to(mean, (1, context.input_steps, lat, lon)).astype(np.float32)
    example[INIT_TIME] = np.array([1_553_472_000], dtype=np.int64)  # 2019-03-25T00:00Z
    example[LEAD_HOURS] = np.array([context.lead_hours[0]], dtype=np.float32)
    return example


def _write_warmup(path: pathlib.Path, example: dict[str, np.ndarray]) -> None:
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(signature_name=SIGNATURE))
    for name, value in example.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    log = prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        writer.write(log.SerializeToString())


def export(
    model: keras.Model,
    context: ForecastContext,
    target: pathlib.Path,
    metadata: dict[str, Any],
) -> tuple[tuple[TensorInfo, ...], tuple[TensorInfo, ...]]:
    """Writes the SavedModel to target (replacing it; complete or absent, never half written);
    returns the signature's (inputs, outputs). A full or unwritable folder: StoreFull or
    StoreUnwritable naming it, the partial copy removed and an earlier target left as it was."""
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        with store_errors(str(target.parent), f"exporting the SavedModel {target.name}"):
            _write(model, context, partial, metadata)
            if target.exists():
                shutil.rmtree(target)
            os.replace(partial, target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)  # best effort: a read-only folder keeps it
    return tensor_infos(context)


def _write(
    model: keras.Model, context: ForecastContext, folder: pathlib.Path, metadata: dict[str, Any]
) -> None:
    """The SavedModel, its metadata and its warm-up request, written into folder."""
    archive = ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name=SIGNATURE, fn=serving_call(model), input_signature=[signature_inputs(context)]
    )
    archive.write_out(str(folder), verbose=False)
    assets = folder / "assets"
    assets.mkdir(exist_ok=True)
    (assets / METADATA).write_text(json.dumps(metadata, indent=1, sort_keys=True, default=str))
    _write_warmup(folder / "assets.extra" / WARMUP, warmup_example(context))


def load_forecast(path: pathlib.Path) -> Any:
    """The serving signature of an exported model (keyword tensors in, dict of tensors out)."""
    return tf.saved_model.load(str(path)).signatures[SIGNATURE]
