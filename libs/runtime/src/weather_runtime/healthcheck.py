"""Command-line health probe: `python -m weather_runtime.healthcheck HOST:PORT [SERVICE]`."""

from __future__ import annotations

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def check(target: str, service: str = "", timeout: float = 5.0) -> str:
    """The serving status name of service ("" for the whole server) at target."""
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        status = check(args[0], args[1] if len(args) > 1 else "")
    except grpc.RpcError as exc:
        print(f"{args[0]}: {exc.code().name} {exc.details()}", file=sys.stderr)  # type: ignore[attr-defined]
        return 1
    print(f"{args[0]}: {status}")
    return 0 if status == "SERVING" else 1


if __name__ == "__main__":
    sys.exit(main())
