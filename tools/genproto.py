"""Regenerates the Python stubs of protos/ into gen/python/weather (or another output folder)."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
DEFAULT_OUT = ROOT / "gen" / "python"
PACKAGE = "weather"


def proto_files() -> list[str]:
    """Proto files under protos/, relative to it, sorted for a stable build."""
    return sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))


def generate(out_root: Path) -> None:
    """Writes messages, services and .pyi stubs for every proto file into out_root/weather."""
    include = str(resources.files("grpc_tools") / "_proto")
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "grpc_tools.protoc",
            f"-I{PROTOS}",
            f"-I{include}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            *proto_files(),
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        generated = Path(tmp) / PACKAGE
        for folder in [generated, *[p for p in generated.rglob("*") if p.is_dir()]]:
            (folder / "__init__.py").write_text("")
        (generated / "py.typed").write_text("")
        target = out_root / PACKAGE
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(generated, target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output root")
    args = parser.parse_args(argv)
    generate(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
