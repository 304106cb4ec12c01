"""Domain exceptions and their mapping to gRPC status codes with google.rpc error details."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status


@dataclass(frozen=True)
class FieldViolation:
    """One bad field of a request: its path (for example "metrics[2].value") and why."""

    field: str
    description: str


@dataclass(frozen=True)
class PreconditionViolation:
    """One unmet precondition: its type (for example "GATE"), subject and description."""

    type: str
    subject: str
    description: str


class DomainError(Exception):
    """Base of the errors a domain module raises; each maps to one gRPC status code."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> list[any_pb2.Any]:
        """google.rpc detail messages sent with the status."""
        return []


class InvalidArgument(DomainError):
    """The request is malformed; names each offending field."""

    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(
        self, violations: list[FieldViolation] | FieldViolation, message: str = ""
    ) -> None:
        self.violations = [violations] if isinstance(violations, FieldViolation) else violations
        text = message or "; ".join(f"{v.field}: {v.description}" for v in self.violations)
        super().__init__(text)

    @classmethod
    def field(cls, field: str, description: str) -> InvalidArgument:
        """An InvalidArgument about one field."""
        return cls(FieldViolation(field, description))

    def details(self) -> list[any_pb2.Any]:
        request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=clip(v.field), description=clip(v.description)
                )
                for v in self.violations
            ]
        )
        return [_pack(request)]


class _ResourceError(DomainError):
    """An error about one named resource (sent as ResourceInfo)."""

    def __init__(self, resource_type: str, name: str, message: str = "") -> None:
        self.resource_type = resource_type
        self.name = name
        super().__init__(message or self._default_message())

    def _default_message(self) -> str:
        return f"{self.resource_type} {self.name!r}"

    def details(self) -> list[any_pb2.Any]:
        info = error_details_pb2.ResourceInfo(
            resource_type=self.resource_type,
            resource_name=clip(self.name),
            description=clip(self.message),
        )
        return [_pack(info)]


class NotFound(_ResourceError):
    """The named resource does not exist."""

    code = grpc.StatusCode.NOT_FOUND

    def _default_message(self) -> str:
        return f"{self.resource_type} {self.name!r} not found"


class AlreadyExists(_ResourceError):
    """The resource to create exists already."""

    code = grpc.StatusCode.ALREADY_EXISTS

    def _default_message(self) -> str:
        return f"{self.resource_type} {self.name!r} already exists"


class FailedPrecondition(DomainError):
    """The system is not in the state the request needs; lists each unmet condition."""

    code = grpc.StatusCode.FAILED_PRECONDITION

    def __init__(self, message: str, violations: list[PreconditionViolation] | None = None) -> None:
        super().__init__(message)
        self.violations = violations or []

    def details(self) -> list[any_pb2.Any]:
        if not self.violations:
            return []
        failure = error_details_pb2.PreconditionFailure(
            violations=[
                error_details_pb2.PreconditionFailure.Violation(
                    type=v.type, subject=v.subject, description=v.description
                )
                for v in self.violations
            ]
        )
        return [_pack(failure)]


class Aborted(DomainError):
    """A concurrent change won (for example a compare-and-set lost); the client may retry."""

    code = grpc.StatusCode.ABORTED


class ResourceExhausted(DomainError):
    """A quota or capacity limit was hit."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(self, message: str, subject: str = "") -> None:
        super().__init__(message)
        self.subject = subject

    def details(self) -> list[any_pb2.Any]:
        failure = error_details_pb2.QuotaFailure(
            violations=[
                error_details_pb2.QuotaFailure.Violation(
                    subject=self.subject, description=self.message
                )
            ]
        )
        return [_pack(failure)]


class OutOfRange(DomainError):
    """A value lies outside the range the data covers."""

    code = grpc.StatusCode.OUT_OF_RANGE


class Unavailable(DomainError):
    """A dependency is unavailable; the client may retry with backoff."""

    code = grpc.StatusCode.UNAVAILABLE


#: Longest text a status carries per message or detail field: statuses travel in trailers, which
#: clients refuse beyond 16 KiB (an error echoing a huge request field would arrive as
#: RESOURCE_EXHAUSTED "metadata size exceeds hard limit" instead of its own status).
MAX_TEXT = 512


def clip(text: str) -> str:
    """text, cut to MAX_TEXT characters (marked) when longer."""
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 20] + f"... ({len(text)} chars)"


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def to_status(error: DomainError) -> grpc.Status:
    """The grpc.Status (code, message, details trailer) for a domain error."""
    status = status_pb2.Status(
        code=error.code.value[0], message=clip(error.message), details=error.details()
    )
    return rpc_status.to_status(status)


def internal_status(reference: str) -> grpc.Status:
    """A status for an unexpected failure: no Python detail, only a reference to the server log."""
    status = status_pb2.Status(
        code=code_pb2.INTERNAL, message=f"internal error (reference {reference}); see server log"
    )
    return rpc_status.to_status(status)
