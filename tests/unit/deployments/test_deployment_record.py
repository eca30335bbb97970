"""Deployment records: keys, values, the 256-character limit and reading them back (registrar.deployments.record)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from registrar.deployments.record import (
    KEY_PREFIX,
    MAX_VALUE,
    deployments_of,
    has_room,
    live_value,
    parse_record,
    record_key,
    retired_value,
)
from registrar.package import ModelPackage
from registrar.updates import PackageUpdate

ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3"
SINCE = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)
LATER = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)


def package(metadata: dict[str, str]) -> ModelPackage:
    return ModelPackage(ModelPackageArn=ARN, CustomerMetadataProperties=metadata)


def test_a_key_is_the_prefix_and_the_endpoint_name() -> None:
    # GIVEN/WHEN the key of endpoint churn-prod THEN it is registrar:deployed:churn-prod
    assert record_key("churn-prod") == "registrar:deployed:churn-prod"


def test_the_longest_endpoint_name_makes_a_valid_key() -> None:
    # GIVEN an endpoint name of 63 characters (SageMaker's maximum)
    key = record_key("e" * 63)
    # WHEN written as a metadata key THEN the request accepts it (at most 128 allowed characters)
    PackageUpdate(ModelPackageArn=ARN, CustomerMetadataProperties={key: live_value(SINCE, ["AllTraffic"])})
    assert len(key) == len(KEY_PREFIX) + 63


def test_a_live_value_says_since_when_and_on_which_variant() -> None:
    # GIVEN/WHEN a version live since 17:00 UTC on variant AllTraffic
    value = live_value(SINCE, ["AllTraffic"])
    # THEN the value reads so, to the second
    assert value == "live since 2026-12-03T17:00:00Z variant AllTraffic"


def test_shadow_variants_are_marked() -> None:
    # GIVEN/WHEN a version served by a production and a shadow variant
    value = live_value(SINCE, ["Blue"], ["Canary"])
    # THEN the shadow variant is written shadow:<name>
    assert value == "live since 2026-12-03T17:00:00Z variant Blue shadow:Canary"


def test_a_time_in_another_zone_is_written_in_utc() -> None:
    # GIVEN a time in UTC+2 WHEN written THEN it is the same instant in UTC
    assert live_value(datetime(2026, 12, 3, 19, 0, tzinfo=timezone(timedelta(hours=2))), []).endswith("17:00:00Z")


def test_many_long_variant_names_fit_in_256_characters_and_say_how_many_were_left_out() -> None:
    # GIVEN ten variants of 62-character names (SageMaker allows ten production variants)
    names = [f"v{i}{'x' * 60}" for i in range(10)]
    # WHEN written
    value = live_value(SINCE, names)
    # THEN the value fits, is valid, and says how many variants it leaves out
    assert len(value) <= MAX_VALUE
    PackageUpdate(ModelPackageArn=ARN, CustomerMetadataProperties={record_key("e"): value})


def test_a_value_that_leaves_variants_out_still_parses() -> None:
    names = [f"v{i}{'x' * 60}" for i in range(10)]
    record = parse_record(record_key("e"), live_value(SINCE, names))
    assert record is not None
    assert (record.since, len(record.variants)) == (SINCE, 3)
    assert live_value(SINCE, names).endswith("+7 more")


def test_a_retired_value_keeps_what_it_closes() -> None:
    # GIVEN a live record
    live = parse_record(record_key("churn-prod"), live_value(SINCE, ["AllTraffic"]))
    assert live is not None
    # WHEN it is retired
    value = retired_value(live, LATER)
    # THEN the value says when it was retired, then the record it closed
    assert value == "retired 2026-12-04T09:30:00Z live since 2026-12-03T17:00:00Z variant AllTraffic"


def test_a_retired_value_of_the_longest_record_fits() -> None:
    live = parse_record(record_key("e"), live_value(SINCE, [f"v{i}{'x' * 60}" for i in range(10)], ["s" * 63]))
    assert live is not None
    assert len(retired_value(live, LATER)) <= MAX_VALUE


@pytest.mark.parametrize(
    ("value", "state", "retired", "variants", "shadows"),
    [
        ("live since 2026-12-03T17:00:00Z variant AllTraffic", "live", None, ("AllTraffic",), ()),
        ("live since 2026-12-03T17:00:00Z variant A B shadow:C", "live", None, ("A", "B"), ("C",)),
        ("live since 2026-12-03T17:00:00Z", "live", None, (), ()),
        (
            "retired 2026-12-04T09:30:00Z live since 2026-12-03T17:00:00Z variant AllTraffic",
            "retired",
            LATER,
            ("AllTraffic",),
            (),
        ),
    ],
)
def test_a_value_parses_back(
    value: str, state: str, retired: datetime | None, variants: tuple[str, ...], shadows: tuple[str, ...]
) -> None:
    # GIVEN/WHEN a value registrar writes is read back
    record = parse_record("registrar:deployed:churn-prod", value)
    # THEN every member is what was written
    assert record is not None
    assert (record.endpoint, record.state, record.since, record.retired) == ("churn-prod", state, SINCE, retired)
    assert (record.variants, record.shadow_variants) == (variants, shadows)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("registrar:deployed:churn-prod", "deployed by hand"),
        ("registrar:deployed:churn-prod", "live since yesterday"),
        ("registrar:deployed:", "live since 2026-12-03T17:00:00Z"),
        ("registrar:neo:ml_c5", "live since 2026-12-03T17:00:00Z"),
    ],
)
def test_an_entry_registrar_did_not_write_is_no_record(key: str, value: str) -> None:
    assert parse_record(key, value) is None


def test_deployments_of_lists_live_records_first_then_retired_newest_first() -> None:
    # GIVEN a version live on two endpoints and retired from two, beside other metadata
    version = package(
        {
            "registrar:decision": "Approved",
            "registrar:deployed:old": "retired 2026-11-01T00:00:00Z live since 2026-10-01T00:00:00Z variant A",
            "registrar:deployed:recent": "retired 2026-12-01T00:00:00Z live since 2026-11-01T00:00:00Z variant A",
            "registrar:deployed:first": "live since 2026-10-01T00:00:00Z variant A",
            "registrar:deployed:second": "live since 2026-12-01T00:00:00Z variant A",
            "registrar:deployed:hand": "written by a person",
        }
    )
    # WHEN its deployments are read
    records = deployments_of(version)
    # THEN live ones come first, each group newest first, and the entry registrar did not write is left out
    assert [(r.endpoint, r.live) for r in records] == [
        ("second", True),
        ("first", True),
        ("recent", False),
        ("old", False),
    ]


def test_a_package_without_records_has_no_deployments() -> None:
    assert deployments_of(package({})) == []


def test_room_is_there_for_a_key_already_held_even_at_50_entries() -> None:
    full = {f"k{i}": "v" for i in range(49)} | {record_key("e"): "live since 2026-12-03T17:00:00Z"}
    assert (has_room(full, record_key("e")), has_room(full, record_key("other"))) == (True, False)
