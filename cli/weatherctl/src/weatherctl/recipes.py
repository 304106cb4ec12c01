"""Recipes from YAML files (keys follow the weather.preprocess.v1.Recipe fields)."""

from __future__ import annotations

from typing import Any

import yaml
from google.protobuf import json_format
from weather.preprocess.v1 import preprocess_service_pb2 as pb


def recipe_from_yaml(text: str) -> pb.Recipe:
    """A Recipe from YAML whose keys follow the proto fields (times as RFC 3339 strings); the
    missing policy may be written short (`missing: {policy: fill_climatology}`)."""
    data: Any = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError("a recipe file holds a mapping of recipe fields")
    missing = data.get("missing")
    if isinstance(missing, dict) and isinstance(missing.get("policy"), str):
        policy = missing["policy"]
        if not policy.upper().startswith("MISSING_POLICY_"):
            data = {**data, "missing": {**missing, "policy": f"MISSING_POLICY_{policy.upper()}"}}
    return json_format.ParseDict(data, pb.Recipe())
