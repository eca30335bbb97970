"""Errors are types: each says what was wrong and what to do about it."""

from __future__ import annotations

from dataclasses import dataclass


class RegistrarError(Exception):
    """Base of every error registrar raises on purpose."""


@dataclass(frozen=True)
class Violation:
    """One broken rule: where (a field path), what (the value, truncated) and which rule."""

    field: str
    value: str
    rule: str

    def __str__(self) -> str:
        return f"{self.field}: {self.rule} (got {self.value})"


def truncate(value: object, limit: int = 60) -> str:
    """Render a value for an error message, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class InvalidUpdateError(RegistrarError, ValueError):
    """An UpdateModelPackage request breaks a rule of the API; nothing was sent.

    Parameters
    ----------
    violations
        Every broken rule, each naming the field path, the value and the rule.
    """

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__("invalid UpdateModelPackage request: " + "; ".join(str(v) for v in violations))


class PolicyError(RegistrarError, ValueError):
    """The approval policy file is missing or invalid; fix the file at the path named."""


class EvidenceError(RegistrarError):
    """The evidence for a decision could not be read or trusted (report missing, oversized, not JSON)."""


class DeploymentError(RegistrarError):
    """The deployment keeps registrar from acting: a location or permission its configuration lacks.

    Not the event's fault nor the evidence's: the event fails, is dead-lettered after its receives
    (the alarm fires), and a redrive once the configuration is fixed handles it. Nothing is decided
    on it meanwhile.
    """


class EventError(RegistrarError, ValueError):
    """An event is not one registrar handles, or is malformed; it is parked, never retried forever."""


class UnlinkedJobError(RegistrarError):
    """A compilation or processing job names no model package version to act on."""


class ConfigurationError(RegistrarError, ValueError):
    """The deployment's configuration (environment, cdk.json context) is invalid."""
