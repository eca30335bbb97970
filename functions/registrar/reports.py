"""The only module that reads S3: evaluation reports, as parsed JSON with the object's version, or why not.

A report is evidence for approving a model, so reading is strict: only ``s3://`` URIs inside the
configured locations, one GetObject, at most ``max_bytes`` read, JSON only, no deep nesting, no
duplicate keys, and a bounded number of values, counted before anything is built (a 5 MiB report
of empty objects would otherwise take hundreds of MiB in a 256 MB function). ``NaN`` and
``Infinity`` literals parse (to float ``nan``/``inf``) so that one non-finite number makes one
metric unusable rather than the whole report.

What a report itself gets wrong (a missing object or bucket, an archived object, too large, not
JSON) raises an :class:`~registrar.errors.EvidenceError` subclass: evidence that cannot be used.
What the deployment gets wrong is not evidence: a report outside the allowed locations, or S3
refusing the function (``AccessDenied``, a KMS key the role may not use), raises
:class:`ReportRefusedError`, a :class:`~registrar.errors.DeploymentError`: the version is held and
the event dead-lettered for an operator to fix the configuration and redrive, instead of a version
being decided on the deployment's mistake. Transient failures (throttling, 5xx, timeouts) propagate
unchanged and the event is retried. (The stack grants ``s3:ListBucket`` on the report locations,
so S3 answers ``NoSuchKey``, not ``AccessDenied``, for a report that does not exist.)

Each report read carries the version it was read at (:attr:`Report.version`): the object's
``VersionId`` in a versioned bucket, else its ETag. A decision records it, and a later read of the
same report (a champion's) asks for that version, so an overwritten report cannot change a
comparison or the audit record.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from registrar import aws
from registrar.accounts import Accounts
from registrar.errors import DeploymentError, EvidenceError
from registrar.locations import within

if TYPE_CHECKING:
    from botocore.client import BaseClient

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
MAX_NESTING = 64
# Values (objects, arrays, scalars) a report may hold. SageMaker's model quality reports hold hundreds, Clarify's
# thousands; 50,000 keep the worst report within the limits (long non-ASCII keys) under 64 MiB once parsed
# (bench/hostile_reports.py, docs/performance.md).
MAX_VALUES = 50_000
VERSION_PREFIX = "version:"
ETAG_PREFIX = "etag:"

# Error codes that say "this report cannot be read", as opposed to "the function may not" or "try again later".
_UNREADABLE_CODES = frozenset(
    {"NoSuchKey", "NoSuchBucket", "InvalidObjectState", "InvalidBucketName", "404", "NotFound"}
)
# Error codes of S3 refusing the function itself: the deployment's to fix (a permission, a key policy).
_REFUSAL_CODES = frozenset({"AccessDenied", "AllAccessDisabled", "AccountProblem", "InvalidObjectState.KMS"})
# botocore's own rule for a Bucket parameter; a URI breaking it would fail in the client, outside these errors.
_BUCKET_NAME = re.compile(r"[a-zA-Z0-9.\-_]{1,255}")
# A JSON string (unrolled so that a long string is one pass), and anything that is not a bracket or a comma.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_STRUCTURE = re.compile(r"[^\[\]{},]+")
_WHITESPACE = re.compile(r"[ \t\r\n]+")


class ReportLocationError(EvidenceError):
    """The URI is not an ``s3://bucket/key`` object URI."""


class ReportRefusedError(DeploymentError):
    """registrar may not read the report: it lies outside the allowed report locations, or S3 refused the function."""


class ReportUnreadableError(EvidenceError):
    """The object cannot be read: it does not exist, its bucket does not exist, it is archived, or the version
    recorded for it is gone."""


class ReportTooLargeError(EvidenceError):
    """The object is larger than the configured maximum; it was not read."""


class ReportNotJsonError(EvidenceError):
    """The object is not UTF-8 JSON, nests too deeply, holds too many values, or repeats a key."""


class Report(NamedTuple):
    """A report as read: the parsed document, and the version of the object it was read from.

    Attributes
    ----------
    document
        The parsed JSON.
    version
        ``version:<VersionId>`` in a versioned bucket, else ``etag:<ETag>``; empty when S3 gave neither.
    """

    document: Any
    version: str


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


def check_structure(
    text: str, uri: str = "report", *, max_nesting: int = MAX_NESTING, max_values: int = MAX_VALUES
) -> None:
    """Refuse a JSON text holding more than ``max_values`` values or nesting deeper than ``max_nesting``.

    Counted on the text, before anything is parsed, in a few passes of the regular expression engine:
    strings are dropped, then what is left is the document's brackets and commas (each value but the
    first of a container follows a comma; each container opens with a bracket). Text that is not JSON
    passes or fails here as it may; the parser says what is wrong with it.

    Raises
    ------
    ReportNotJsonError
        Naming the limit.
    """
    # Strings become one placeholder each (a scalar, so a container holding one is not empty), then every
    # scalar and all whitespace go: what is left is the document's brackets and commas.
    compact = _WHITESPACE.sub("", _JSON_STRING.sub('""', text))
    empty = compact.count("[]") + compact.count("{}")
    skeleton = _NOT_STRUCTURE.sub("", compact)
    del compact
    # The root, plus each non-empty container's elements: its first, and one after each comma.
    opened = skeleton.count("[") + skeleton.count("{") - empty
    values = 1 + opened + skeleton.count(",")
    if values > max_values:
        raise ReportNotJsonError(f"report {uri} holds more than {max_values} values: not an evaluation report")
    depth = deepest = 0
    for bracket in skeleton.translate(_BRACKETS_ONLY):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    if deepest > max_nesting:
        raise ReportNotJsonError(f"report {uri} nests deeper than {max_nesting} levels")


_BRACKETS_ONLY = str.maketrans("", "", ",")


def parse_report(
    data: bytes, uri: str = "report", *, max_nesting: int = MAX_NESTING, max_values: int = MAX_VALUES
) -> Any:
    """Parse report bytes as strict JSON (``NaN``/``Infinity`` kept as floats), within bounds checked first.

    Raises
    ------
    ReportNotJsonError
        When the bytes are not UTF-8, not JSON, repeat a key, nest deeper than ``max_nesting`` or hold
        more than ``max_values`` values (see :func:`check_structure`).
    """
    return parse_text(decode(data, uri), uri, max_nesting=max_nesting, max_values=max_values)


def decode(data: bytes, uri: str = "report") -> str:
    """Report bytes as text (UTF-8, a byte order mark dropped).

    Raises
    ------
    ReportNotJsonError
        When the bytes are not UTF-8.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ReportNotJsonError(f"report {uri} is not UTF-8 text ({error.reason} at byte {error.start})") from None


def parse_text(text: str, uri: str = "report", *, max_nesting: int = MAX_NESTING, max_values: int = MAX_VALUES) -> Any:
    """:func:`parse_report` of text already decoded."""
    check_structure(text, uri, max_nesting=max_nesting, max_values=max_values)
    try:
        return json.loads(text, parse_constant=_non_finite, object_pairs_hook=_unique_keys)
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
    accounts
        The workload accounts: a report in one's report locations is allowed too, and read through the
        evidence role in that account.
    """

    def __init__(
        self,
        client: BaseClient | None = None,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        allowed_locations: Sequence[str] = (),
        max_bytes: int = DEFAULT_MAX_BYTES,
        accounts: Accounts | None = None,
    ) -> None:
        for location in allowed_locations:
            if not location.startswith("s3://") or len(location) <= len("s3://"):
                raise ValueError(f"allowed location {location!r} is not an s3://bucket[/prefix] location")
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        self._client = client
        self._endpoint_url = endpoint_url
        self._region = region
        self._accounts = accounts
        workload_locations = accounts.report_locations() if accounts is not None else {}
        self._own_locations = tuple(allowed_locations)
        self.allowed_locations = tuple(dict.fromkeys([*allowed_locations, *workload_locations]))
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
            When the URI is malformed: the package's or the job's own data is wrong.
        ReportRefusedError
            When it lies outside :attr:`allowed_locations`: the deployment's configuration does not allow it.
        """
        bucket, key = split_s3_uri(uri)
        if self.allowed_locations and not any(within(bucket, key, loc) for loc in self.allowed_locations):
            # The reason reaches the version, its decision event and e-mail: it names the registry's own
            # locations, and of the workload accounts' only how many there are.
            shown = ", ".join(self._own_locations) or "none of its own"
            others = len(self.allowed_locations) - len(set(self._own_locations) & set(self.allowed_locations))
            workloads = f", and {others} of workload accounts" if others else ""
            raise ReportRefusedError(f"report {uri} is outside the allowed report locations ({shown}{workloads})")
        return bucket, key

    def read(self, uri: str, *, version: str | None = None) -> Report:
        """Read the JSON document at ``uri`` with one GetObject, at ``version`` when one is given.

        Parameters
        ----------
        uri
            ``s3://bucket/key`` of the report.
        version
            A :attr:`Report.version` recorded earlier: ``version:<id>`` reads that object version,
            ``etag:<etag>`` reads the object only if it still has that ETag.

        Returns
        -------
        Report
            The parsed document (``NaN``/``Infinity`` literals become float ``nan``/``inf``) and the
            version it was read at.

        Raises
        ------
        ReportLocationError
            Malformed URI (no call is made).
        ReportRefusedError
            Outside the allowed locations (no call is made), or S3 refused the function (``AccessDenied``,
            a KMS key it may not use).
        ReportUnreadableError
            NoSuchKey, NoSuchBucket, an archived object, a version that no longer exists or an object
            that changed since its ETag was recorded.
        ReportTooLargeError
            ContentLength, or the bytes actually streamed, exceed ``max_bytes``.
        ReportNotJsonError
            Not UTF-8 JSON, a repeated key, nesting deeper than 64 levels, more than 50,000 values.
        """
        bucket, key = self.check_location(uri)
        response = self._get(uri, bucket, key, version)
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
        text = decode(data, uri)
        del data  # the bytes and their text would both be held while the document is built
        return Report(document=parse_text(text, uri), version=_version_of(response))

    def _get(self, uri: str, bucket: str, key: str, version: str | None) -> dict[str, Any]:
        request: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version is not None and version.startswith(VERSION_PREFIX):
            request["VersionId"] = version.removeprefix(VERSION_PREFIX)
        elif version is not None and version.startswith(ETAG_PREFIX):
            request["IfMatch"] = f'"{version.removeprefix(ETAG_PREFIX)}"'
        owner = self._accounts.owner_of_report(uri) if self._accounts is not None else None
        client = self.client if owner is None or self._accounts is None else self._accounts.client("s3", owner)
        if owner is not None:
            # A workload's bucket must still be that workload's: a name given up and taken by another account is not.
            request["ExpectedBucketOwner"] = owner
        try:
            response: dict[str, Any] = client.get_object(**request)
        except client.exceptions.ClientError as error:
            code = aws.error_code(error) or ""
            message = aws.error_message(error)
            if code in _REFUSAL_CODES or code.startswith("KMS."):
                raise ReportRefusedError(f"S3 refused to read report {uri}: {code} ({message})") from None
            if code in ("PreconditionFailed", "412"):
                raise ReportUnreadableError(f"report {uri} changed since {version} was recorded") from None
            if code in ("NoSuchVersion", "InvalidArgument") and version is not None:
                raise ReportUnreadableError(f"report {uri} at {version} cannot be read: {code} ({message})") from None
            if code in _UNREADABLE_CODES:
                raise ReportUnreadableError(f"report {uri} cannot be read: {code} ({message})") from None
            raise
        return response


def _version_of(response: dict[str, Any]) -> str:
    """``version:<VersionId>`` when S3 versions the object, else ``etag:<ETag>``, without the ETag's quotes.

    Both fit a metadata value (letters, digits and ``_.:/=+-@``); the quotes S3 puts around an ETag do not.
    """
    version_id = response.get("VersionId")
    if isinstance(version_id, str) and version_id and version_id != "null":
        return VERSION_PREFIX + version_id
    etag = response.get("ETag")
    return ETAG_PREFIX + etag.strip('"') if isinstance(etag, str) and etag.strip('"') else ""
