"""A byte-forwarding gRPC proxy for TF Serving's Predict: the floor any proxy hop costs here.

`python bench/predictor/passthrough.py PORT UPSTREAM` forwards
/tensorflow.serving.PredictionService/Predict to UPSTREAM as opaque bytes: no parsing, no
validation, no interceptors, no tracing (the services' allocator setting, though). The benchmark
runs it beside the predictor so that the report shows how much of the predictor's cost is the
extra hop itself.
"""

from __future__ import annotations

import signal
import sys
from concurrent import futures

import grpc

from weather_runtime.memory import reuse_large_buffers

METHOD = "/tensorflow.serving.PredictionService/Predict"
MESSAGE_BYTES = 256 * 1024 * 1024


def main(port: int, upstream: str) -> int:
    reuse_large_buffers()  # the same allocator setting as the predictor and the model server
    options = [
        ("grpc.max_send_message_length", MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MESSAGE_BYTES),
    ]
    channel = grpc.insecure_channel(upstream, options=options)
    forward = channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)

    def predict(request: bytes, context: grpc.ServicerContext) -> bytes:
        try:
            answer: bytes = forward(request, timeout=context.time_remaining())
            return answer
        except grpc.RpcError as exc:
            context.abort(exc.code(), exc.details() or "")
            raise

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32), options=options)
    handler = grpc.method_handlers_generic_handler(
        "tensorflow.serving.PredictionService",
        {"Predict": grpc.unary_unary_rpc_method_handler(predict)},
    )
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    signal.signal(signal.SIGTERM, lambda *_: server.stop(1))
    server.wait_for_termination()
    channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), sys.argv[2]))
