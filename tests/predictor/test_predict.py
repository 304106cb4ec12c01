"""Predict, GetModelInfo and inline Forecast against the embedded model server, with provenance."""

from __future__ import annotations

import numpy as np
import pytest
from google.protobuf import duration_pb2, timestamp_pb2
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from weather.common.v1 import field_pb2
from weather.predictor.v1 import predictor_service_pb2 as pb

from tests.modelserver.support import LAT, LON, STEPS, VARIABLE
from tests.predictor.conftest import FORECAST
from tests.predictor.support import (
    DATASET_HASH,
    INIT,
    LATITUDES,
    STATS_HASH,
    RunningPredictor,
    gridded,
    model_output,
    predict_request,
    rolled_out,
    selector,
    to_array,
    window,
)
from weather_runtime.telemetry import ListenedTracerProvider


def test_predict_default_alias_is_production_with_provenance(predictor: RunningPredictor) -> None:
    values = window(1)
    response = predictor.stub.Predict(
        predict_request(fields=[gridded(values)], lead_hours=2.0), timeout=30
    )
    assert [f.variable for f in response.outputs] == [VARIABLE]
    out = response.outputs[0]
    assert list(out.shape) == [LAT, LON] and out.dtype == field_pb2.DATA_TYPE_FLOAT32
    assert out.units == "K"
    assert [a.name for a in out.axes] == ["latitude", "longitude"]
    assert list(out.axes[0].values) == LATITUDES
    np.testing.assert_allclose(to_array(out), model_output(values, INIT, 2.0, 1.0), rtol=1e-5)
    assert response.valid_time.seconds == INIT + 7200
    p = response.provenance
    assert (p.model_name, p.model_version, p.alias) == (FORECAST, 1, "production")
    assert p.dataset_hash == DATASET_HASH and p.statistics_hash == STATS_HASH
    assert len(p.trace_id) == 32 and int(p.trace_id, 16) != 0


def test_predict_by_version_number_and_by_alias(predictor: RunningPredictor) -> None:
    values = window(2)
    by_number = predictor.stub.Predict(
        predict_request(version=2, fields=[gridded(values)]), timeout=30
    )
    assert (by_number.provenance.model_version, by_number.provenance.alias) == (2, "")
    np.testing.assert_allclose(
        to_array(by_number.outputs[0]), model_output(values, INIT, 1.0, 2.0), rtol=1e-5
    )
    staged = predictor.stub.Predict(
        predict_request(alias="staging", fields=[gridded(values)]), timeout=30
    )
    assert (staged.provenance.model_version, staged.provenance.alias) == (2, "staging")


def test_get_model_info_describes_signature_and_metadata(predictor: RunningPredictor) -> None:
    info = predictor.stub.GetModelInfo(pb.GetModelInfoRequest(model=selector(FORECAST)), timeout=30)
    assert info.signature_name == "serving_default"
    inputs = {t.name: (t.dtype, list(t.shape)) for t in info.inputs}
    assert inputs == {
        VARIABLE: (field_pb2.DATA_TYPE_FLOAT32, [-1, STEPS, LAT, LON]),
        "init_time": (field_pb2.DATA_TYPE_INT64, [-1]),
        "lead_hours": (field_pb2.DATA_TYPE_FLOAT32, [-1]),
    }
    assert {t.name: list(t.shape) for t in info.outputs} == {VARIABLE: [-1, LAT, LON]}
    meta = info.metadata
    assert list(meta.variables) == [VARIABLE]
    assert meta.time_step.seconds == 3600 and meta.input_steps == STEPS
    assert [d.seconds for d in meta.lead_times] == [3600, 7200, 10800]
    assert meta.dataset.content_hash == DATASET_HASH and meta.statistics_hash == STATS_HASH
    assert '"version_marker": 1' in meta.raw_json
    assert (info.provenance.model_version, info.provenance.alias) == (1, "production")


def test_forecast_inline_direct_leads_then_rollout(predictor: RunningPredictor) -> None:
    values = window(3)
    request = pb.ForecastRequest(
        model=selector(FORECAST),
        init_time=timestamp_pb2.Timestamp(seconds=INIT),
        lead_times=[duration_pb2.Duration(seconds=h * 3600) for h in (3, 1, 5)],
        inline=pb.ForecastInputs(fields=[gridded(values)]),
    )
    responses = list(predictor.stub.Forecast(request, timeout=30))
    assert [r.lead_time.seconds for r in responses] == [10800, 3600, 18000]
    assert [r.method for r in responses] == [
        pb.FORECAST_METHOD_DIRECT,
        pb.FORECAST_METHOD_DIRECT,
        pb.FORECAST_METHOD_ROLLOUT,
    ]
    np.testing.assert_allclose(
        to_array(responses[0].outputs[0]), model_output(values, INIT, 3.0, 1.0), rtol=1e-5
    )
    # Rollout in blocks (leads 1-3 h trained): the +1, +2, +3 h forecasts become the newest
    # three steps of the next window (its newest step at +3 h), and +5 h is its +2 h forecast.
    np.testing.assert_allclose(to_array(responses[2].outputs[0]), rolled_out(values, 5), rtol=1e-5)
    assert responses[2].valid_time.seconds == INIT + 5 * 3600
    assert all(r.provenance.model_version == 1 for r in responses)
    assert all(r.provenance.dataset_hash == DATASET_HASH for r in responses)
    trace_ids = {r.provenance.trace_id for r in responses}
    assert len(trace_ids) == 1 and len(trace_ids.pop()) == 32  # one stream, one trace


@pytest.mark.parametrize("listened", [False, True], ids=["nobody-listens", "exporter"])
def test_the_callers_trace_id_comes_back_whether_or_not_spans_are_recorded(
    predictor: RunningPredictor, monkeypatch: pytest.MonkeyPatch, listened: bool
) -> None:
    provider = ListenedTracerProvider()
    exporter = InMemorySpanExporter()
    if listened:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    caller_trace, caller_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    traceparent = f"00-{caller_trace}-{caller_span}-01"
    response = predictor.stub.Predict(
        predict_request(fields=[gridded(window())]),
        timeout=30,
        metadata=[("traceparent", traceparent)],
    )
    assert response.provenance.trace_id == caller_trace
    alone = predictor.stub.Predict(predict_request(fields=[gridded(window())]), timeout=30)
    assert len(alone.provenance.trace_id) == 32 and alone.provenance.trace_id != caller_trace
    assert int(alone.provenance.trace_id, 16) != 0
    finished = exporter.get_finished_spans()
    spans = [s for s in finished if s.name == "/weather.predictor.v1.PredictorService/Predict"]
    if listened:  # the server span is the caller's child; its call to the model server (a
        # CLIENT span) is its child, and the model server's SERVER span the call's child
        assert len(spans) == 2 and format(spans[0].context.trace_id, "032x") == caller_trace
        assert spans[0].parent is not None
        assert format(spans[0].parent.span_id, "016x") == caller_span
        upstream = [s for s in finished if s.name.endswith("PredictionService/Predict")]
        calls = [s for s in upstream if s.kind == SpanKind.CLIENT]
        served = [s for s in upstream if s.kind == SpanKind.SERVER]
        assert [s.parent.span_id if s.parent else None for s in calls] == [
            s.context.span_id for s in spans
        ]
        assert [s.parent.span_id if s.parent else None for s in served] == [
            s.context.span_id for s in calls
        ]
    else:
        assert spans == []
