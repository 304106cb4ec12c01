"""Fault trials: a checked file or folder swapped back and forth for a link to outside the roots
while reads are checked and made; counts what the reads saw with the URI policy's opened() and,
as the control, with a plain open of the checked real path (the race this closes).

    .venv/bin/python bench/faults/symlink_swap.py [--trials N] [--seconds S]

Writes bench/faults/results/symlink_swap-<UTC stamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(ROOT / "libs" / "runtime" / "src"))

from weather_runtime import safe_open  # noqa: E402
from weather_runtime.errors import InvalidArgument  # noqa: E402
from weather_runtime.uris import UriPolicy  # noqa: E402

SECRET = b"SECRET outside the roots"
INSIDE = b"inside the root"


def _swap_to_link(path: Path, target: Path) -> None:
    link = path.with_name(path.name + ".link")
    link.symlink_to(target)
    if path.is_dir() and not path.is_symlink():
        path.rename(path.with_name(path.name + ".gone"))
    os.replace(link, path)


def _make(kind: str, path: Path) -> None:
    if kind == "file":
        path.write_bytes(INSIDE)
    else:
        path.mkdir()
        (path / "chunk").write_bytes(INSIDE)


def _swapper(kind: str, path: Path, outside: Path, stop: threading.Event, swaps: list[int]) -> None:
    spare = path.with_name(path.name + ".spare")
    gone = path.with_name(path.name + ".gone")
    while not stop.is_set():
        _swap_to_link(path, outside)
        if gone.exists():
            shutil.rmtree(gone) if gone.is_dir() else gone.unlink()
        _make(kind, spare)
        if spare.is_dir():
            path.unlink()
            spare.rename(path)
        else:
            os.replace(spare, path)
        swaps[0] += 2


def _checked_read(policy: UriPolicy, path: Path) -> bytes:
    with policy.opened(policy.check(str(path), "f"), "f") as handle:
        if not handle.is_dir:
            return os.pread(handle.fd, 1 << 16, 0)
        return b"".join(os.read(fd, 1 << 16) for _, fd in safe_open.walk(handle, policy.within))


def _plain_read(policy: UriPolicy, path: Path) -> bytes:
    real = policy.check_open(policy.check(str(path), "f"), "f")  # the check, then a plain open
    if Path(real).is_dir():
        return (Path(real) / "chunk").read_bytes()
    return Path(real).read_bytes()


def trial(kind: str, read: Callable[[UriPolicy, Path], bytes], seconds: float) -> dict[str, int]:
    with tempfile.TemporaryDirectory(prefix="symlink-swap-") as folder:
        root, outside = Path(folder) / "root", Path(folder) / "outside"
        root.mkdir()
        outside.mkdir()
        (outside / "secret.bin").write_bytes(SECRET)
        (outside / "store").mkdir()
        (outside / "store" / "chunk").write_bytes(SECRET)
        policy = UriPolicy.build([str(root)])
        path = root / ("data.bin" if kind == "file" else "store")
        _make(kind, path)
        target = outside / ("secret.bin" if kind == "file" else "store")
        stop, swaps = threading.Event(), [0]
        thread = threading.Thread(target=_swapper, args=(kind, path, target, stop, swaps))
        outcomes: Counter[str] = Counter()
        thread.start()
        try:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                try:
                    data = read(policy, path)
                except InvalidArgument:
                    outcomes["refused"] += 1
                    continue
                except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                    outcomes["absent"] += 1
                    continue
                outcomes["read outside" if SECRET in data else "read inside"] += 1
        finally:
            stop.set()
            thread.join()
        return {"swaps": swaps[0], "reads": sum(outcomes.values()), **outcomes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0, help="per trial")
    args = parser.parse_args()
    readers = {"checked (opened)": _checked_read, "plain open (control)": _plain_read}
    result: dict[str, object] = {"trials": args.trials, "seconds_per_trial": args.seconds}
    for kind in ("file", "folder"):
        for name, read in readers.items():
            rows = [trial(kind, read, args.seconds) for _ in range(args.trials)]
            total = Counter[str]()
            for row in rows:
                total.update(row)
            result[f"{kind} / {name}"] = {"total": dict(total), "per_trial": rows}
            print(f"{kind} / {name}: {dict(total)}", flush=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"symlink_swap-{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
