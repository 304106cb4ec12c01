"""Recipe hashes stay what they were when they were computed from the proto's JSON form."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import pandas as pd
import pytest
from google.protobuf import json_format, timestamp_pb2
from weather.common.v1 import dataset_pb2
from weather.preprocess.v1 import preprocess_service_pb2 as pb

from weather_preprocess import domain
from weather_preprocess.convert import analysis_request_from_pb, recipe_from_pb
from weather_preprocess.recipe_hash import canonical, recipe_hash
from weather_runtime.errors import InvalidArgument
from weatherctl.recipes import recipe_from_yaml

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "data" / "recipes").glob("*.yaml"))
SOURCES = ROOT / "services" / "preprocess" / "src" / "weather_preprocess"

# Computed by the code before the domain types existed (sha256 of the recipe proto's JSON form)
# for the demo recipe as it was then (with augmentation {seed: 2019}, since dropped from the file).
BEFORE_DOMAIN = "sha256:b374f4486f2bb8979ca9a900a5318089bae744f86aa3014fb3074a6e346fadfa"
BUNDLED = {
    "era5-t2m.yaml": "sha256:f8053bc65ac1bf9b4a1e376a0aca6979cbdf4cc4d1a449497a475b947903c297",
}
# Every field set, times with 3, 6 and 9 fraction digits, an int64 seed, a coarsen oneof.
RICH: dict[str, Any] = {
    "source": {"dataset_id": "era5-uv", "content_hash": "sha256:" + "ab" * 32},
    "variables": [
        {"name": "u", "levels": [850, 500.5]},
        {"name": "v", "levels": [850, 500.5]},
        {"name": "t2m"},
    ],
    "region": {"lat_min": 49.5, "lat_max": 61, "lon_min": -8.25, "lon_max": 2},
    "period": {"start": "2019-03-01T00:00:00.500Z", "end": "2019-04-01T00:00:00.000123Z"},
    "regrid": {"coarsen": {"latitude_factor": 2, "longitude_factor": 3}},
    "derived": [
        {"kind": "DERIVED_KIND_WIND_SPEED", "name": "speed850", "u": "u850", "v": "v850"},
        {"kind": "DERIVED_KIND_TIME_OF_DAY"},
        {"kind": "DERIVED_KIND_DAY_OF_YEAR", "name": "doy"},
    ],
    "split": {
        "train": {"start": "2019-03-01T00:00:00Z", "end": "2019-03-22T00:00:00Z"},
        "validation": {"start": "2019-03-22T00:00:00Z", "end": "2019-03-25T00:00:00.000000001Z"},
        "test": {"start": "2019-03-25T00:00:00Z", "end": "2019-04-01T00:00:00Z"},
    },
    "augmentation": {"seed": 7, "crop_latitude": 16, "crop_longitude": 24, "noise_std": 0.01},
    "output_dataset_id": "rich-train",
}
# Zero and negative-zero edges, a resolution oneof, an empty augmentation, no test split.
SPARSE: dict[str, Any] = {
    "source": {"dataset_id": "era5"},
    "region": {"lat_min": 0, "lat_max": 10.125, "lon_min": -0.0, "lon_max": 359.75},
    "regrid": {"resolution_degrees": 0.25},
    "split": {
        "train": {"start": "1999-12-31T23:00:00Z", "end": "2000-01-01T06:00:00Z"},
        "validation": {"start": "2000-01-02T00:00:00Z", "end": "2000-01-03T00:00:00Z"},
    },
    "augmentation": {},
    "output_dataset_id": "sparse",
}
PINNED: dict[str, tuple[dict[str, Any], str]] = {
    "rich": (RICH, "sha256:3b2eea85f0adbbbf4ce49ac7c29a8871372c66f4413c77518493dddcfac0a17b"),
    "sparse": (SPARSE, "sha256:bdbba326fe4ee995e4127d57eb3b8268d2320315c4106e5312fbdc09996299e8"),
}


@pytest.mark.parametrize("path", RECIPES, ids=[p.name for p in RECIPES])
def test_bundled_recipes_keep_their_hash(path: Path) -> None:
    assert path.name in BUNDLED, f"pin the hash of the new recipe {path.name} here"
    recipe = recipe_from_pb(recipe_from_yaml(path.read_text()))
    assert recipe_hash(recipe) == BUNDLED[path.name]


@pytest.mark.parametrize("name", sorted(PINNED))
def test_every_field_keeps_its_hash(name: str) -> None:
    data, pinned = PINNED[name]
    assert recipe_hash(recipe_from_pb(json_format.ParseDict(data, pb.Recipe()))) == pinned


def test_the_output_id_is_not_hashed() -> None:
    data, pinned = PINNED["rich"]
    renamed = json_format.ParseDict({**data, "output_dataset_id": "elsewhere"}, pb.Recipe())
    assert recipe_hash(recipe_from_pb(renamed)) == pinned


def _day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def test_the_hash_comes_from_domain_values_alone() -> None:
    """The demo recipe written with the domain types (no YAML, no proto) has the pinned hash."""
    recipe = domain.Recipe(
        source=domain.DatasetRef("era5-t2m"),
        variables=(domain.VariableSpec("t2m"),),
        derived=(
            domain.DerivedVariable(domain.DerivedKind.TIME_OF_DAY),
            domain.DerivedVariable(domain.DerivedKind.DAY_OF_YEAR),
        ),
        split=domain.Split(
            train=domain.TimeRange(_day("2019-03-01"), _day("2019-03-22")),
            validation=domain.TimeRange(_day("2019-03-22"), _day("2019-03-25")),
            test=domain.TimeRange(_day("2019-03-25"), _day("2019-04-01")),
        ),
        augmentation=domain.Augmentation(seed=2019),
        output_dataset_id="anything",
    )
    assert recipe_hash(recipe) == BEFORE_DOMAIN
    assert canonical(recipe)["augmentation"] == {"seed": "2019"}


# The domain modules: neither protobuf nor gRPC (the converter and servicer translate).
DOMAIN = [
    "domain.py",
    "recipe.py",
    "recipe_hash.py",
    "build.py",
    "transform.py",
    "analyses.py",
    "augment.py",
    "statistics.py",
    *sorted(str(p.relative_to(SOURCES)) for p in (SOURCES / "analysis").glob("*.py")),
]


@pytest.mark.parametrize("module", DOMAIN)
def test_domain_modules_import_no_protobuf(module: str) -> None:
    tree = ast.parse((SOURCES / module).read_text())
    imported = [
        name
        for node in ast.walk(tree)
        for name in (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
    ]
    bad = [n for n in imported if n.split(".")[0] in ("weather", "google", "grpc")]
    assert not bad, f"{module} imports {bad}"


def test_hashing_never_loads_protobuf() -> None:
    """In a fresh interpreter where the project's protos cannot be imported (the errors module
    still loads gRPC's status types), the domain recipe hashes as pinned: the hash cannot depend
    on any proto field name."""
    script = """
import sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "weather":
            raise ImportError("no project protos here: " + name)
sys.meta_path.insert(0, Refuse())
import pandas as pd
from weather_preprocess import domain
from weather_preprocess.recipe import check_recipe, recipe_hash
day = pd.Timestamp
recipe = domain.Recipe(
    source=domain.DatasetRef("era5-t2m"),
    variables=(domain.VariableSpec("t2m"),),
    derived=(domain.DerivedVariable(domain.DerivedKind.TIME_OF_DAY),
             domain.DerivedVariable(domain.DerivedKind.DAY_OF_YEAR)),
    split=domain.Split(train=domain.TimeRange(day("2019-03-01"), day("2019-03-22")),
                       validation=domain.TimeRange(day("2019-03-22"), day("2019-03-25")),
                       test=domain.TimeRange(day("2019-03-25"), day("2019-04-01"))),
    augmentation=domain.Augmentation(seed=2019),
    output_dataset_id="era5-t2m-train",
)
check_recipe(recipe)
print(recipe_hash(recipe))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == BEFORE_DOMAIN


def _stamp(seconds: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=seconds)


def test_converter_names_a_time_pandas_cannot_hold() -> None:
    recipe = pb.Recipe(
        split=pb.Split(train=dataset_pb2.TimeRange(start=_stamp(0), end=_stamp(-(2**62))))
    )
    with pytest.raises(InvalidArgument) as caught:
        recipe_from_pb(recipe)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in caught.value.violations] == ["recipe.split.train.end"]


def test_converter_keeps_what_was_not_given_apart_from_zero() -> None:
    bare = recipe_from_pb(pb.Recipe())
    assert (bare.region, bare.period, bare.regrid, bare.augmentation) == (None, None, None, None)
    assert bare.split == domain.Split()
    given: dict[str, Any] = {"region": {}, "augmentation": {}, "regrid": {"resolution_degrees": 0}}
    zeros = recipe_from_pb(json_format.ParseDict(given, pb.Recipe()))
    assert zeros.region == domain.Bounds()
    assert zeros.augmentation == domain.Augmentation()
    assert zeros.regrid == domain.Regrid(resolution_degrees=0.0)


def test_analysis_requests_convert_and_unknown_calendars_are_named() -> None:
    request = pb.StartAnalysisRequest(
        source=dataset_pb2.DatasetRef(dataset_id="navy"),
        kind=pb.ANALYSIS_KIND_AREA_MEAN,
        calendar=pb.CALENDAR_KEY_HOUR,
        named_region="nino4",
        of_anomalies=True,
        percentiles=[90.0],
    )
    converted = analysis_request_from_pb(request)
    assert converted.kind == domain.AnalysisKind.AREA_MEAN
    assert (converted.calendar, converted.region, converted.period) == ("hour", None, None)
    assert converted.percentiles == (90.0,)
    unknown = pb.StartAnalysisRequest(kind=99)  # type: ignore[arg-type]
    assert analysis_request_from_pb(unknown).kind == domain.AnalysisKind.UNSPECIFIED
    with pytest.raises(InvalidArgument) as caught:
        analysis_request_from_pb(pb.StartAnalysisRequest(calendar=42))  # type: ignore[arg-type]
    assert [v.field for v in caught.value.violations] == ["calendar"]
