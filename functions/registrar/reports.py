"""The only module that reads S3: evaluation reports, as parsed JSON, or a clear reason why not.

A report is evidence for approving a model, so reading is strict: only ``s3://`` URIs inside the
configured locations, one GetObject, at most ``max_bytes`` read, JSON only, no deep nesting, no
duplicate keys. ``NaN`` and ``Infinity`` literals parse (to float ``nan``/``inf``) so that one
non-finite number makes one metric unusable rather than the whole report.

What a report itself gets wrong (a missing object or bucket, an archived object, too large, not
JSON) raises an :class:`~registrar.errors.EvidenceError` subclass: evidence that cannot be used.
A refusal (``AccessDenied``, a KMS key the role may not use) and transient failures (throttling,
5xx, timeouts) propagate unchanged: the event is retried and, if the refusal lasts, dead-lettered
for an operator to fix the permission and redrive, instead of a version being decided on the
deployment's mistake or a network blip. (The stack grants ``s3:ListBucket`` on the report
locations, so S3 answers ``NoSuchKey``, not ``AccessDenied``, for a report that does not exist.)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from registrar import aws
from registrar.errors import EvidenceError

if TYPE_CHECKING:
    from botocore.client import BaseClient

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
MAX_NESTING = 64

# Error codes that say "this report cannot be read", as opposed to "the function may not" or "try again later".
_UNREADABLE_CODES = frozenset(
    {"NoSuchKey", "NoSuchBucket", "InvalidObjectState", "InvalidBucketName", "404", "NotFound"}
)
# botocore's own rule for a Bucket parameter; a URI breaking it would fail in the client, outside these errors.
_BUCKET_NAME = re.compile(r"[a-zA-Z0-9.\-_]{1,255}")


class ReportLocationError(EvidenceError):
    """The URI is not an ``s3://bucket/key`` object URI, or lies outside the allowed report locations."""


class ReportUnreadableError(EvidenceError):
    """S3 refused the object: it does not exist, its bucket does not exist, or access is denied."""


class ReportTooLargeError(EvidenceError):
    """The object is larger than the configured maximum; it was not read."""


class ReportNotJsonError(EvidenceError):
    """The object is not UTF-8 JSON, nests too deeply, or repeats a key."""


def split_s3_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into bucket and key.

    Raises
    ------
    ReportLocationError
        When ``uri`` is not an ``s3://`` URI with a bucket and a non-empty key, or when a key
        segment is ``.`` or ``..`` (some HTTP stacks normalise those, reading another object).
    """
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ReportLocationError(f"report URI {uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise ReportLocationError(f"report URI {uri!r} must name a bucket and an object key (s3://bucket/key)")
    if not _BUCKET_NAME.fullmatch(bucket):
        raise ReportLocationError(f"report URI {uri!r}: {bucket!r} is not a bucket name")
    if any(segment in {".", ".."} for segment in key.split("/")):
        raise ReportLocationError(f"report URI {uri!r} contains a '.' or '..' path segment")
    return bucket, key


def _within(bucket: str, key: str, location: str) -> bool:
    """Whether ``bucket/key`` lies in ``s3://bucket[/prefix]``; a prefix matches whole path segments only."""
    loc_bucket, _, prefix = location[len("s3://") :].partition("/")
    if loc_bucket != bucket:
        return False
    if not prefix:
        return True
    # "s3://b/reports" admits reports/x.json but not reports-old/x.json; "s3://b/reports/" reads the same.
    prefix = prefix if prefix.endswith("/") else prefix + "/"
    return key.startswith(prefix)


def _non_finite(name: str) -> float:
    # json calls this for NaN, Infinity and -Infinity: keep them as floats, to be refused per metric.
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ReportNotJsonError(f"duplicate key {key!r}: the report is ambiguous")
        result[key] = value
    return result


def _depth(document: Any) -> int:
    """The nesting depth of a parsed JSON document (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in children)
    return deepest


def parse_report(data: bytes, uri: str = "report", *, max_nesting: int = MAX_NESTING) -> Any:
    """Parse report bytes as strict JSON (``NaN``/``Infinity`` kept as floats).

    Raises
    ------
    ReportNotJsonError
        When the bytes are not UTF-8, not JSON, repeat a key, or nest deeper than ``max_nesting``.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ReportNotJsonError(f"report {uri} is not UTF-8 text ({error.reason} at byte {error.start})") from None
    try:
        document = json.loads(text, parse_constant=_non_finite, object_pairs_hook=_unique_keys)
    except ReportNotJsonError as error:
        raise ReportNotJsonError(f"report {uri} is not usable JSON: {error}") from None
    except json.JSONDecodeError as error:
        raise ReportNotJsonError(
            f"report {uri} is not JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except ValueError as error:  # an integer of more digits than Python converts
        raise ReportNotJsonError(f"report {uri} is not usable JSON: {str(error)[:200]}") from None
    except RecursionError:
        raise ReportNotJsonError(f"report {uri} nests deeper than {max_nesting} levels") from None
    if _depth(document) > max_nesting:
        raise ReportNotJsonError(f"report {uri} nests deeper than {max_nesting} levels")
    return document


class ReportStore:
    """Evaluation reports in S3, read as JSON.

    Parameters
    ----------
    client
        A botocore S3 client; by default the process-wide one from :func:`registrar.aws.client`,
        created on first use.
    endpoint_url, region
        Used only to build the default client.
    allowed_locations
        ``s3://bucket[/prefix]`` locations reports may be read from; a URI elsewhere is refused
        before any call. Empty allows any location (the deployed IAM policy still applies).
    max_bytes
        The largest report read; a larger object is refused.
    """

    def __init__(
        self,
        client: BaseClient | None = None,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        allowed_locations: Sequence[str] = (),
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        for location in allowed_locations:
            if not location.startswith("s3://") or len(location) <= len("s3://"):
                raise ValueError(f"allowed location {location!r} is not an s3://bucket[/prefix] location")
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        self._client = client
        self._endpoint_url = endpoint_url
        self._region = region
        self.allowed_locations = tuple(allowed_locations)
        self.max_bytes = max_bytes

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws.client("s3", self._endpoint_url, self._region)
        return self._client

    def check_location(self, uri: str) -> tuple[str, str]:
        """Bucket and key of ``uri`` if reports may be read there.

        Raises
        ------
        ReportLocationError
            When the URI is malformed or outside :attr:`allowed_locations`.
        """
        bucket, key = split_s3_uri(uri)
        if self.allowed_locations and not any(_within(bucket, key, loc) for loc in self.allowed_locations):
            raise ReportLocationError(
                f"report {uri} is outside the allowed report locations ({', '.join(self.allowed_locations)})"
            )
        return bucket, key

    def read_json(self, uri: str) -> Any:
        """Read the JSON document at ``uri`` with one GetObject.

        Parameters
        ----------
        uri
            ``s3://bucket/key`` of the report.

        Returns
        -------
        Any
            The parsed document; ``NaN``/``Infinity`` literals become float ``nan``/``inf``.

        Raises
        ------
        ReportLocationError
            Malformed URI or outside the allowed locations (no call is made).
        ReportUnreadableError
            NoSuchKey, NoSuchBucket, an archived object. ``AccessDenied`` and KMS refusals propagate as
            the client's error, like transient ones: the deployment's to fix, not the report's.
        ReportTooLargeError
            ContentLength, or the bytes actually streamed, exceed ``max_bytes``.
        ReportNotJsonError
            Not UTF-8 JSON, a repeated key, or nesting deeper than 64 levels.
        """
        bucket, key = self.check_location(uri)
        client = self.client
        try:
            response = client.get_object(Bucket=bucket, Key=key)
        except client.exceptions.ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _UNREADABLE_CODES:
                message = error.response.get("Error", {}).get("Message") or code
                raise ReportUnreadableError(f"report {uri} cannot be read: {code} ({message})") from None
            raise
        body = response["Body"]
        try:
            length = response.get("ContentLength")
            if isinstance(length, int) and length > self.max_bytes:
                raise ReportTooLargeError(f"report {uri} is {length} bytes, more than the {self.max_bytes} allowed")
            # ContentLength can be absent or wrong; never read more than one byte past the limit.
            data = body.read(self.max_bytes + 1)
        finally:
            body.close()
        if len(data) > self.max_bytes:
            raise ReportTooLargeError(f"report {uri} is larger than the {self.max_bytes} bytes allowed")
        return parse_report(data, uri)
