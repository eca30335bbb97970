"""Reusable constrained types: each carries one rule of the SageMaker API, stated once.

The service model's patterns use Java's ``\\p{..}`` classes, which Python's ``re`` lacks; those
rules are checked with :mod:`unicodedata` categories instead.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

from registrar import _shapes


def _matches(pattern: str, explanation: str) -> Callable[[str], str]:
    compiled = re.compile(pattern, re.ASCII)  # Java's \w, \d and \S are ASCII-only

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"must match {pattern} ({explanation})")
        return value

    return check


def _unicode_classes(categories: str, extra: str, explanation: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        for char in value:
            if unicodedata.category(char)[0] not in categories and char not in extra:
                raise ValueError(f"character {char!r} is not allowed: {explanation}")
        return value

    return check


def _one_of(values: tuple[str, ...], shape: str) -> Callable[[str], str]:
    allowed = frozenset(values)

    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"must be one of the {len(values)} {shape} values of the API (e.g. {values[0]})")
        return value

    return check


ENTITY_NAME_PATTERN = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
MODEL_PACKAGE_ARN_PATTERN = r"arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]{9,16}:[0-9]{12}:model-package/[\S]{1,2048}"
URL_PATTERN = r"(https|s3)://([^/]+)/?(.*)"

ModelPackageArn = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2048),
    AfterValidator(_matches(MODEL_PACKAGE_ARN_PATTERN, "a model package version ARN, not a name")),
]
EntityName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=63),
    AfterValidator(_matches(ENTITY_NAME_PATTERN, "letters, digits and single hyphens; no underscores")),
]
SpecName = EntityName
ContainerHostname = Annotated[
    str,
    StringConstraints(max_length=63),
    AfterValidator(_matches(ENTITY_NAME_PATTERN, "letters, digits and hyphens")),
]
EntityDescription = Annotated[
    str,
    StringConstraints(max_length=1024),
    AfterValidator(_unicode_classes("LMZSNP", "", "letters, marks, separators, symbols, numbers, punctuation")),
]
SourceUri = Annotated[
    str,
    StringConstraints(max_length=1024),
    AfterValidator(_unicode_classes("LMZNP", "", "letters, marks, separators, numbers, punctuation")),
]
_METADATA_CHARS = "letters, numbers, spaces and _.:/=+-@"
MetadataKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128),
    AfterValidator(_unicode_classes("LZN", "_.:/=+-@", _METADATA_CHARS)),
]
MetadataValue = Annotated[
    str,
    StringConstraints(min_length=1, max_length=256),
    AfterValidator(_unicode_classes("LZN", "_.:/=+-@", _METADATA_CHARS)),
]


# Every character a single-line field (the model's `.*` patterns) refuses: Java's `.` matches no line
# terminator. Text made to fit such a field must map each of these away (see approval.decide).
LINE_TERMINATORS = frozenset("\n\r\u0085\u2028\u2029")


def _single_line(explanation: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if any(char in LINE_TERMINATORS for char in value):
            raise ValueError(f"must be a single line (pattern .*): {explanation}")
        return value

    return check


ApprovalDescription = Annotated[str, StringConstraints(max_length=1024), AfterValidator(_single_line("no line breaks"))]
S3Url = Annotated[
    str,
    StringConstraints(max_length=1024),
    AfterValidator(_matches(URL_PATTERN, "an s3:// or https:// URL")),
]
ContainerImage = Annotated[str, StringConstraints(max_length=255), AfterValidator(_matches(r"[\S]+", "no whitespace"))]
ImageDigest = Annotated[
    str,
    StringConstraints(max_length=72),
    AfterValidator(_matches(r"[Ss][Hh][Aa]256:[0-9a-fA-F]{64}", "sha256: and 64 hex digits")),
]
ProductId = Annotated[
    str,
    StringConstraints(max_length=256),
    AfterValidator(_matches(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*", "letters, digits and hyphens")),
]
EnvironmentKey = Annotated[
    str,
    StringConstraints(max_length=1024),
    AfterValidator(_matches(r"[a-zA-Z_][a-zA-Z0-9_]*", "a shell variable name")),
]
EnvironmentValue = Annotated[str, StringConstraints(max_length=1024)]
FrameworkVersion = Annotated[
    str,
    StringConstraints(min_length=3, max_length=10),
    AfterValidator(_matches(r"[0-9]\.[A-Za-z0-9.-]+", "like 1.13 or 2.0.1")),
]
DataInputConfig = Annotated[str, StringConstraints(min_length=1, max_length=16384)]
ChannelName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(_matches(r"[A-Za-z0-9\.\-_]+", "letters, digits and .-_")),
]
HubContentVersion = Annotated[
    str,
    StringConstraints(min_length=5, max_length=14),
    AfterValidator(_matches(r"\d{1,4}.\d{1,4}.\d{1,4}", "like 1.0.0")),
]
ContentType = Annotated[str, StringConstraints(max_length=256), AfterValidator(_single_line("no line breaks"))]
ResponseMimeType = Annotated[
    str, StringConstraints(max_length=1024), AfterValidator(_matches(r"[-\w]+\/.+", "a MIME type like text/csv"))
]
ClientToken = Annotated[
    str,
    StringConstraints(min_length=1, max_length=36),
    AfterValidator(_matches(r"[a-zA-Z0-9-]+", "letters, digits and hyphens")),
]
StageDescription = Annotated[str, StringConstraints(max_length=1024), AfterValidator(_single_line("no line breaks"))]
ModelCardContent = Annotated[str, StringConstraints(max_length=100_000)]
RealtimeInstanceType = Annotated[
    str, AfterValidator(_one_of(_shapes.REALTIME_INSTANCE_TYPES, "ProductionVariantInstanceType"))
]
TransformInstanceType = Annotated[
    str, AfterValidator(_one_of(_shapes.TRANSFORM_INSTANCE_TYPES, "TransformInstanceType"))
]
