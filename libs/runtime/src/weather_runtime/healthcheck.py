"""Command-line health probe: `python -m weather_runtime.healthcheck HOST:PORT [SERVICE]`.

Over TLS: `--ca FILE` (the CA verifying the server), with `--cert FILE --key FILE` for a
server that requires client certificates (mTLS), and `--server-name NAME` when the server's
certificate does not name the host dialled (a probe dialling 127.0.0.1 in a pod).
"""

from __future__ import annotations

import argparse
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from weather_runtime.settings import SettingsError
from weather_runtime.tls import ClientTLS


def check(
    target: str, service: str = "", timeout: float = 5.0, security: ClientTLS | None = None
) -> str:
    """The serving status name of service ("" for the whole server) at target."""
    if security is None:
        channel = grpc.insecure_channel(target)
    else:
        channel = grpc.secure_channel(
            target, security.credentials(), options=security.channel_options()
        )
    with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m weather_runtime.healthcheck")
    parser.add_argument("target", help="HOST:PORT")
    parser.add_argument("service", nargs="?", default="", help="service name; empty: server")
    parser.add_argument("--ca", default="", help="PEM CA verifying the server (TLS)")
    parser.add_argument("--cert", default="", help="PEM client certificate (mTLS)")
    parser.add_argument("--key", default="", help="PEM key of --cert")
    parser.add_argument("--server-name", default="", help="name the certificate must hold")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        security = (
            ClientTLS.from_files(
                args.ca,
                args.cert,
                args.key,
                variables=("--ca", "--cert", "--key"),
                server_name=args.server_name,
            )
            if args.ca or args.cert or args.key
            else None
        )
        status = check(args.target, args.service, args.timeout, security)
    except SettingsError as exc:
        print(f"{args.target}: {exc}", file=sys.stderr)
        return 2
    except grpc.RpcError as exc:
        print(f"{args.target}: {exc.code().name} {exc.details()}", file=sys.stderr)  # type: ignore[attr-defined]
        return 1
    print(f"{args.target}: {status}")
    return 0 if status == "SERVING" else 1


if __name__ == "__main__":
    sys.exit(main())
