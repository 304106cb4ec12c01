"""A real OTLP/gRPC trace receiver on loopback (the collector's TraceService), for tests."""

from __future__ import annotations

import threading
import time
from concurrent import futures
from typing import Any

import grpc
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as tpb
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as tpb_grpc

from weather_runtime.trace_files import Span, hex_ids, spans_of_request


class _Collector(tpb_grpc.TraceServiceServicer):  # type: ignore[misc]
    def __init__(self) -> None:
        self.requests: list[tpb.ExportTraceServiceRequest] = []
        self.lock = threading.Lock()

    def Export(self, request: tpb.ExportTraceServiceRequest, context: Any) -> Any:
        with self.lock:
            self.requests.append(request)
        return tpb.ExportTraceServiceResponse()


class OtlpReceiver:
    """Receives spans exported over OTLP/gRPC; `spans()` reads them back as trace_files.Span."""

    def __init__(self) -> None:
        self._collector = _Collector()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        tpb_grpc.add_TraceServiceServicer_to_server(self._collector, self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """The standard OTEL_* variables pointing a process at this receiver, batches flushed
        often so a test need not wait long."""
        return {
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_INSECURE": "true",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }

    @property
    def request_count(self) -> int:
        with self._collector.lock:
            return len(self._collector.requests)

    def spans(self, trace_id: str = "") -> list[Span]:
        """Every span received so far (of one trace when trace_id is given)."""
        with self._collector.lock:
            requests = list(self._collector.requests)
        found = []
        for request in requests:
            as_json = json_format.MessageToDict(request, use_integers_for_enums=True)
            for span in spans_of_request(hex_ids(as_json)):
                if not trace_id or span.trace_id == trace_id:
                    found.append(span)
        return found

    def wait_quiet(self, seconds: float = 1.5, timeout: float = 30.0) -> None:
        """Waits until no export arrived for `seconds` (the exporters flushed)."""
        deadline = time.monotonic() + timeout
        last, since = self.request_count, time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.2)
            now = self.request_count
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= seconds:
                return

    def stop(self) -> None:
        self._server.stop(1).wait()
