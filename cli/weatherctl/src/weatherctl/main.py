"""Entry point of weatherctl: global options, command groups, and gRPC errors as clear lines."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path

import grpc
from weather.ingest.v1 import ingest_service_pb2_grpc as ipb_grpc
from weather.preprocess.v1 import preprocess_service_pb2_grpc as ppb_grpc

from weather_runtime.identity import with_actor
from weather_runtime.settings import SettingsError
from weather_runtime.telemetry import instrumented_channel
from weather_runtime.tls import ClientTLS
from weatherctl import (
    data_commands,
    forecast_commands,
    plot_commands,
    registry_commands,
    token_commands,
    trace_commands,
    train_commands,
)
from weatherctl.output import error
from weatherctl.pipeline import commands as pipeline_commands

DEFAULT_REGISTRY = os.environ.get("WEATHER_REGISTRY", "127.0.0.1:50051")
DEFAULT_INGEST = os.environ.get("WEATHER_INGEST", "127.0.0.1:50052")
DEFAULT_PREPROCESS = os.environ.get("WEATHER_PREPROCESS", "127.0.0.1:50053")
DEFAULT_TRAINER = os.environ.get("WEATHER_TRAINER", "127.0.0.1:50054")
DEFAULT_PREDICTOR = os.environ.get("WEATHER_PREDICTOR", "127.0.0.1:50055")


def _actor() -> str:
    try:
        return os.environ.get("WEATHER_ACTOR") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


# TLS: the CA verifying the services; with a certificate and key, mTLS (`weatherctl up`
# prints the local suite's, which suite.json also holds)
TLS_OPTIONS = (
    ("--ca-file", "WEATHER_CA_FILE", "PEM CA verifying the services (TLS)"),
    ("--cert-file", "WEATHER_CERT_FILE", "PEM client certificate (mTLS)"),
    ("--key-file", "WEATHER_KEY_FILE", "PEM key of the client certificate"),
)


def _security(args: argparse.Namespace) -> ClientTLS | None:
    """The TLS files of every channel (checked now), None for plaintext."""
    files = (args.ca_file, args.cert_file, args.key_file)
    if not any(files):
        return None
    names = tuple(f"{option} (${variable})" for option, variable, _ in TLS_OPTIONS)
    tls = ClientTLS.from_files(*files, variables=names)  # type: ignore[arg-type]
    tls.check()
    return tls


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="weatherctl", description="weather suite command line")
    parser.add_argument("--registry", default=DEFAULT_REGISTRY, help="registry address host:port")
    parser.add_argument("--ingest", default=DEFAULT_INGEST, help="ingest address host:port")
    parser.add_argument("--preprocess", default=DEFAULT_PREPROCESS, help="preprocess address")
    parser.add_argument("--trainer", default=DEFAULT_TRAINER, help="trainer address host:port")
    parser.add_argument("--predictor", default=DEFAULT_PREDICTOR, help="predictor address")
    parser.add_argument("--actor", default=_actor(), help="who you are, recorded in the registry")
    parser.add_argument("--timeout", type=float, default=30.0, help="deadline per call, seconds")
    parser.add_argument("--json", action="store_true", help="print protobuf JSON")
    for option, variable, what in TLS_OPTIONS:
        parser.add_argument(
            option, default=os.environ.get(variable, ""), help=f"{what} (default ${variable})"
        )
    parser.add_argument(
        "--token-file",
        default=os.environ.get("WEATHER_TOKEN_FILE", ""),
        help="bearer token sent to the services (default $WEATHER_TOKEN_FILE; or $WEATHER_TOKEN)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="run the implemented services locally until Ctrl-C")
    up.add_argument("--data-dir", type=Path, default=Path("var/local"))
    # each port: 0 picks a free one (the addresses are printed and written to suite.json)
    up.add_argument("--registry-port", type=int, default=50051)
    up.add_argument("--ingest-port", type=int, default=50052)
    up.add_argument("--preprocess-port", type=int, default=50053)
    up.add_argument("--trainer-port", type=int, default=50054)
    up.add_argument("--modelserver-port", type=int, default=8500)
    up.add_argument("--predictor-port", type=int, default=50055)
    demo = commands.add_parser("demo", help="the main job: the pipeline on the bundled data")
    demo.add_argument("--data-dir", type=Path, default=Path("var/demo"))
    registry_commands.add_parser(commands)
    data_commands.add_parsers(commands)
    train_commands.add_parser(commands)
    forecast_commands.add_parser(commands)
    plot_commands.add_parser(commands)
    pipeline_commands.add_parser(commands)
    trace_commands.add_parser(commands)
    token_commands.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.security = _security(args)
        args.token = os.environ.get("WEATHER_TOKEN", "").strip()
    except SettingsError as exc:
        error(str(exc))
        return 2
    done = _run_local(args)
    if done is not None:
        return done
    service = getattr(args, "service", "")
    if service == "predictor":
        return _on_channel(args.predictor, args, lambda c: forecast_commands.run(c, args))
    if service in ("ingest", "preprocess", "trainer"):
        return _run_data(args)
    return _on_channel(
        args.registry, args, lambda c: registry_commands.run(_Deadline(c, args.timeout), args)
    )


def _run_local(args: argparse.Namespace) -> int | None:
    """Commands that start the suite, run a pipeline or call no service; None for others."""
    if args.command == "up":
        from weatherctl.launcher import run_up

        ports = {
            "registry": args.registry_port,
            "ingest": args.ingest_port,
            "preprocess": args.preprocess_port,
            "trainer": args.trainer_port,
            "modelserver": args.modelserver_port,
            "predictor": args.predictor_port,
        }
        return run_up(args.data_dir.resolve(), ports)
    if args.command == "demo":
        from weatherctl.demo import run_demo

        return run_demo(args.data_dir.resolve())
    runners = {"pipeline": pipeline_commands.run, "plot": plot_commands.run}
    runner = runners.get(getattr(args, "service", ""), getattr(args, "local_command", None))
    return None if runner is None else int(runner(args))


def _run_data(args: argparse.Namespace) -> int:
    """An ingest, preprocess or trainer command on a channel to that service."""
    address = {"ingest": args.ingest, "preprocess": args.preprocess, "trainer": args.trainer}
    if args.service == "trainer":
        return _on_channel(address["trainer"], args, lambda c: train_commands.run(c, args))
    client = (
        ipb_grpc.IngestServiceStub if args.service == "ingest" else ppb_grpc.PreprocessServiceStub
    )
    return _on_channel(address[args.service], args, lambda c: int(args.handler(client(c), args)))


def _on_channel(
    address: str, args: argparse.Namespace, command: Callable[[grpc.Channel], int]
) -> int:
    """Runs command on a channel to address; gRPC errors become one clear line."""
    channel = with_actor(
        instrumented_channel(
            address, security=args.security, token=args.token, token_file=args.token_file
        ),
        args.actor,
    )
    try:
        return command(channel)
    except grpc.RpcError as exc:
        error(f"{exc.code().name}: {exc.details()}")  # type: ignore[attr-defined]
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        channel.close()


class _Deadline:
    """A channel wrapper giving every unary call the command's deadline."""

    def __init__(self, channel: grpc.Channel, timeout: float) -> None:
        self._channel = channel
        self._timeout = timeout

    def unary_unary(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        inner = self._channel.unary_unary(*args, **kwargs)
        timeout = self._timeout

        def call(request, timeout_=None, **kw):  # type: ignore[no-untyped-def]
            return inner(request, timeout=timeout_ or kw.pop("timeout", None) or timeout, **kw)

        return call

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._channel, name)


if __name__ == "__main__":
    sys.exit(main())
