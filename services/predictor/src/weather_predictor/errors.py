"""Predictor-specific domain errors (a model-server status passed on to the client)."""

from __future__ import annotations

import grpc

from weather_runtime.errors import DomainError


class UpstreamError(DomainError):
    """A model-server failure passed on with its status code (the message names the model)."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
