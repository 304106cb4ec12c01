"""The contracts: buf lint clean, no breaking change against the previous commit, stubs in sync."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROTOS = ROOT / "protos"
GENERATED = ROOT / "gen" / "python" / "weather"


def _buf() -> str:
    candidate = os.environ.get("BUF") or str(ROOT / ".tools" / "bin" / "buf")
    if Path(candidate).exists():
        return candidate
    found = shutil.which("buf")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("buf is not installed: `make tools` installs it")
    pytest.skip("buf is not installed: `make tools` installs it")


def test_generated_stubs_match_the_protos(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "genproto.py"), "--out", str(tmp_path)], check=True
    )
    fresh = tmp_path / "weather"
    fresh_files = sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
    committed = sorted(
        p.relative_to(GENERATED)
        for p in GENERATED.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert fresh_files == committed, "stub files differ: run `make proto`"
    _, mismatch, errors = filecmp.cmpfiles(
        fresh, GENERATED, [str(p) for p in fresh_files], shallow=False
    )
    assert not mismatch and not errors, f"stale stubs {mismatch + errors}: run `make proto`"


def test_buf_lint_is_clean() -> None:
    done = subprocess.run([_buf(), "lint"], cwd=PROTOS, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_breaking_change_against_the_previous_commit(tmp_path: Path) -> None:
    buf = _buf()
    previous = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", "HEAD~1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not previous:
        pytest.skip("no previous commit to compare against")
    has_protos = subprocess.run(
        ["git", "cat-file", "-e", f"{previous}:protos/buf.yaml"], cwd=ROOT, capture_output=True
    )
    if has_protos.returncode != 0:
        pytest.skip("the previous commit has no protos")
    archive = subprocess.run(
        ["git", "archive", previous, "protos"], cwd=ROOT, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(tmp_path)], input=archive.stdout, check=True)
    done = subprocess.run(
        [buf, "breaking", "--against", str(tmp_path / "protos")],
        cwd=PROTOS,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_breaking_check_catches_a_deleted_field(tmp_path: Path) -> None:
    """The breaking check is not vacuous: deleting a field without reserving it fails."""
    buf = _buf()
    changed = tmp_path / "protos"
    shutil.copytree(PROTOS, changed)
    proto = changed / "weather" / "common" / "v1" / "dataset.proto"
    text = proto.read_text()
    proto.write_text(text.replace("  string content_hash = 2;\n", ""))
    done = subprocess.run(
        [buf, "breaking", "--against", str(PROTOS)], cwd=changed, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "content_hash" in done.stdout + done.stderr


def test_stubs_are_one_installable_package(tmp_path: Path) -> None:
    """gen/python builds into a wheel with messages, services, .pyi files and py.typed."""
    import zipfile

    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT / "gen" / "python"),
        ],
        check=True,
    )
    wheels = list(tmp_path.glob("weather_protos-*.whl"))
    assert len(wheels) == 1
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    for module in ("weather/registry/v1/registry_service", "weather/common/v1/field"):
        assert {f"{module}_pb2.py", f"{module}_pb2.pyi", f"{module}_pb2_grpc.py"} <= names
    assert "weather/py.typed" in names
