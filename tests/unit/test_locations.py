"""registrar.locations: whether an S3 object lies in a location the deployment allows (reports, compiled models)."""

from __future__ import annotations

import pytest

from registrar.locations import object_within, within


@pytest.mark.parametrize(
    ("uri", "locations", "inside"),
    [
        pytest.param("s3://b/anything/at/all.json", (), True, id="no-locations-allow-any"),
        pytest.param("s3://b/reports/x.json", ("s3://b",), True, id="whole-bucket"),
        pytest.param("s3://b/reports/x.json", ("s3://b/",), True, id="whole-bucket-with-slash"),
        pytest.param("s3://b/reports/x.json", ("s3://b/reports",), True, id="prefix"),
        pytest.param("s3://b/reports/x.json", ("s3://b/reports/",), True, id="prefix-with-slash"),
        pytest.param("s3://b/reports/deep/x.json", ("s3://b/reports",), True, id="deeper"),
        pytest.param("s3://b/reports/x.json", ("s3://other", "s3://b/reports"), True, id="any-of-several"),
        pytest.param("s3://b/reports-old/x.json", ("s3://b/reports",), False, id="segments-not-characters"),
        pytest.param("s3://b/reports", ("s3://b/reports",), False, id="the-prefix-itself-is-no-object-in-it"),
        pytest.param("s3://bb/reports/x.json", ("s3://b",), False, id="another-bucket"),
        pytest.param("s3://b/Reports/x.json", ("s3://b/reports",), False, id="case-counts"),
    ],
)
def test_an_object_is_within_a_location_by_bucket_and_whole_path_segments(
    uri: str, locations: tuple[str, ...], inside: bool
) -> None:
    # GIVEN an object URI and the allowed locations WHEN checked THEN inside exactly when a location holds it
    assert object_within(uri, locations) is inside


@pytest.mark.parametrize(
    "uri",
    [
        "https://b/reports/x.json",
        "b/reports/x.json",
        "s3://b",
        "s3://b/",
        "s3:///reports/x.json",
        "s3://b/reports/../secrets/x.json",
        "s3://b/reports/./x.json",
        "s3://b/reports/..",
    ],
)
def test_a_uri_that_is_no_plain_object_uri_is_in_no_location(uri: str) -> None:
    # GIVEN a URI that is not s3://bucket/key, or walks with '.' or '..' (which some HTTP stacks normalise into
    # another object) WHEN checked against a location that would otherwise hold it THEN outside
    assert object_within(uri, ("s3://b",)) is False


def test_within_takes_a_bucket_and_a_key() -> None:
    # GIVEN bucket b and key reports/x.json WHEN checked against locations THEN the same rules as object_within
    assert within("b", "reports/x.json", "s3://b/reports")
    assert not within("b", "reports-old/x.json", "s3://b/reports")
    assert within("b", "reports-old/x.json", "s3://b")
