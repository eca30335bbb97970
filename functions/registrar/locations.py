"""S3 locations the deployment allows: whether an object lies within one (reports, compiled artifacts). Pure."""

from __future__ import annotations

from collections.abc import Sequence


def within(bucket: str, key: str, location: str) -> bool:
    """Whether ``bucket/key`` lies in ``s3://bucket[/prefix]``; a prefix matches whole path segments only."""
    loc_bucket, _, prefix = location.removeprefix("s3://").partition("/")
    if loc_bucket != bucket:
        return False
    if not prefix:
        return True
    # "s3://b/reports" admits reports/x.json but not reports-old/x.json; "s3://b/reports/" reads the same.
    prefix = prefix if prefix.endswith("/") else prefix + "/"
    return key.startswith(prefix)


def object_within(uri: str, locations: Sequence[str]) -> bool:
    """Whether the object ``s3://bucket/key`` lies in one of ``locations``; empty ``locations`` allow any.

    A URI that is not an ``s3://bucket/key`` object URI, or whose key has a ``.`` or ``..`` segment (some
    HTTP stacks normalise those into another object), lies in none.
    """
    if not locations:
        return True
    if not uri.startswith("s3://"):
        return False
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket or not key or any(segment in {".", ".."} for segment in key.split("/")):
        return False
    return any(within(bucket, key, location) for location in locations)
