"""The ``REGISTRAR_*`` environment: every variable is a known setting, and every value keeps its rule."""

from __future__ import annotations

import pathlib
import re

import pytest

from registrar.errors import ConfigurationError
from registrar.settings import PREFIX, READ_ELSEWHERE, Settings

ROOT = pathlib.Path(__file__).resolve().parents[2]
# A REGISTRAR_* name written as a variable: quoted, in backticks, or after $ (not a Python constant's name).
MENTIONED = re.compile(r"""["'`$](REGISTRAR_[A-Z0-9_]+)""")


def refused(environment: dict[str, str]) -> str:
    """The one-line message the settings are refused with."""
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_environment(environment)
    message = str(raised.value)
    assert "\n" not in message
    return message


# Unknown variables ---------------------------------------------------------------------------------


def test_a_misspelt_variable_is_refused_naming_it_and_the_settings() -> None:
    # GIVEN REGISTRAR_REPORT_LOCATION (no S), which used to be dropped, leaving reports readable anywhere
    # WHEN the settings are read THEN they are refused, naming the variable, the likely one, and every setting
    message = refused({"REGISTRAR_REPORT_LOCATION": "s3://reports/evaluations/"})
    assert message.startswith(
        "invalid settings: REGISTRAR_REPORT_LOCATION: not a registrar setting "
        "(did you mean REGISTRAR_REPORT_LOCATIONS?); the settings are "
    )
    for field in Settings.model_fields:
        assert f"{PREFIX}{field.upper()}" in message
    assert "REGISTRAR_POLICY," in message  # the alias of REGISTRAR_POLICY_FILE


def test_an_unknown_variable_without_a_likely_setting_gets_no_guess() -> None:
    message = refused({"REGISTRAR_COLOUR": "blue"})
    assert "REGISTRAR_COLOUR: not a registrar setting; the settings are " in message


@pytest.mark.parametrize("variable", sorted(READ_ELSEWHERE))
def test_a_variable_another_part_of_the_project_reads_is_accepted(variable: str) -> None:
    # GIVEN a REGISTRAR_* variable infra or bench reads (exported in the shell that also runs the CLI)
    # WHEN the settings are read THEN it is ignored
    assert Settings.from_environment({variable: "/usr/bin/python3.13"}) == Settings()


def test_registrar_policy_names_the_policy_file() -> None:
    assert Settings.from_environment({"REGISTRAR_POLICY": "events/policy.yaml"}).policy_file == "events/policy.yaml"


def test_every_registrar_variable_the_project_mentions_is_accepted() -> None:
    # GIVEN every REGISTRAR_* variable the code, benchmarks, tests, Makefile and docs set, read or document
    places = [ROOT / "Makefile", ROOT / "README.md", ROOT / "app.py"]
    for folder in ("functions/registrar", "functions/handlers", "infra", "bench", "tests", "docs", "scripts"):
        places += [p for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".md", ".sh", ".yaml", ".json")]
    places = [place for place in places if place.is_file() and place != pathlib.Path(__file__)]  # this file misspells
    mentioned = {name for place in places for name in MENTIONED.findall(place.read_text(errors="replace"))}
    assert {"REGISTRAR_BYTECODE_PYTHON", "REGISTRAR_TABLE_NAME"} <= mentioned  # the scan finds them

    # WHEN each is set THEN none is refused as unknown
    for name in sorted(mentioned):
        try:
            Settings.from_environment({name: "1"})
        except ConfigurationError as error:
            assert "not a registrar setting" not in str(error), name


# Empty values --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variable", ["REGISTRAR_REPORT_LOCATIONS", "REGISTRAR_NEO_OUTPUT_LOCATIONS", "REGISTRAR_MANAGED_GROUPS"]
)
@pytest.mark.parametrize("value", [",", " , ", "s3://reports/a/,,s3://reports/b/", "s3://reports/a/,"])
def test_an_empty_entry_in_a_list_is_refused_not_read_as_no_restriction(variable: str, value: str) -> None:
    # GIVEN a list with an empty entry, which used to be dropped ("," meant no restriction at all)
    # WHEN the settings are read THEN they are refused, naming the variable and the rule
    message = refused({variable: value})
    assert f"{variable}: has an empty entry: separate the entries with single commas" in message


@pytest.mark.parametrize(
    "variable", ["REGISTRAR_REPORT_LOCATIONS", "REGISTRAR_NEO_OUTPUT_LOCATIONS", "REGISTRAR_MANAGED_GROUPS"]
)
def test_an_empty_list_is_refused_unset_is_no_restriction(variable: str) -> None:
    assert f"{variable}: cannot be empty: unset the variable for no restriction" in refused({variable: ""})
    assert Settings.from_environment({}).report_locations == []
    assert Settings.from_environment({}).neo_output_locations == []
    assert Settings.from_environment({}).managed_groups == []


@pytest.mark.parametrize(
    "variable",
    ["REGISTRAR_TABLE_NAME", "REGISTRAR_POLICY_FILE", "REGISTRAR_POLICY_PARAMETER", "REGISTRAR_EVENT_BUS_NAME"],
)
def test_an_empty_name_is_refused(variable: str) -> None:
    # GIVEN REGISTRAR_TABLE_NAME="" (which used to turn idempotency off silently), or another empty name
    # WHEN the settings are read THEN they are refused, naming the variable
    assert f"{variable}: cannot be empty: unset the variable instead" in refused({variable: ""})


def test_an_unset_table_name_is_allowed_for_local_runs() -> None:
    # Unset: no idempotency records, the sweeper's watermark in memory (the CLI and local runs)
    assert Settings.from_environment({}).table_name is None
    assert Settings.from_environment({"REGISTRAR_TABLE_NAME": "registrar-idempotency"}).table_name == (
        "registrar-idempotency"
    )


# Report locations and groups: cdk.json's rules -----------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("https://reports/evaluations/", "REGISTRAR_REPORT_LOCATIONS[0]: 'https://reports/evaluations/' is not an s3"),
        ("s3://", "REGISTRAR_REPORT_LOCATIONS[0]: 's3://': '' is not a valid S3 bucket name"),
        ("s3://reports/,s3://Bucket/reports/", "REGISTRAR_REPORT_LOCATIONS[1]: 's3://Bucket/reports/': 'Bucket' is"),
        ("s3://reports/evaluations/*", "a location is a prefix, it cannot contain * or ?"),
        ("s3://my_reports/", "'my_reports' is not a valid S3 bucket name (3-63 lowercase letters, digits, . and -)"),
        ("s3://reports/${aws:username}/", "a location cannot contain '$'"),
    ],
)
def test_a_report_location_that_could_match_nothing_is_refused(value: str, message: str) -> None:
    # GIVEN a location no S3 object can be in (bucket names are lower case; '*' is no pattern here)
    # WHEN the settings are read THEN they are refused, naming the variable, the entry and the rule
    assert message in refused({"REGISTRAR_REPORT_LOCATIONS": value})


def test_valid_report_locations_are_kept_in_order() -> None:
    value = "s3://registrar-demo-reports/, s3://reports.example/evaluations/churn"
    assert Settings.from_environment({"REGISTRAR_REPORT_LOCATIONS": value}).report_locations == [
        "s3://registrar-demo-reports/",
        "s3://reports.example/evaluations/churn",
    ]


def test_valid_neo_output_locations_are_kept_in_order() -> None:
    # GIVEN REGISTRAR_NEO_OUTPUT_LOCATIONS with two locations WHEN read THEN both, in order, trimmed
    value = "s3://churn-artifacts/neo/ , s3://registrar-demo-models/compiled"
    settings = Settings.from_environment({"REGISTRAR_NEO_OUTPUT_LOCATIONS": value})
    assert settings.neo_output_locations == ["s3://churn-artifacts/neo/", "s3://registrar-demo-models/compiled"]
    assert settings.report_locations == []  # one list does not stand in for the other


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("https://artifacts/neo/", "REGISTRAR_NEO_OUTPUT_LOCATIONS[0]: 'https://artifacts/neo/' is not an s3"),
        ("s3://artifacts/neo/,s3://Artifacts/", "REGISTRAR_NEO_OUTPUT_LOCATIONS[1]: 's3://Artifacts/': 'Artifacts' is"),
        ("s3://artifacts/neo/*", "REGISTRAR_NEO_OUTPUT_LOCATIONS[0]: 's3://artifacts/neo/*': a location is a"),
    ],
)
def test_a_neo_output_location_is_checked_as_a_report_location_is(value: str, message: str) -> None:
    # GIVEN a Neo output location no compiled model can be in WHEN read THEN refused, naming the entry and the rule
    assert message in refused({"REGISTRAR_NEO_OUTPUT_LOCATIONS": value})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("churn-*,*", "REGISTRAR_MANAGED_GROUPS[1]: '*' matches every model package group"),
        ("churn-[ab]", "REGISTRAR_MANAGED_GROUPS[0]: 'churn-[ab]' uses a [...] character class"),
        ("churn_model", "'churn_model' is not a model package group name or pattern"),
    ],
)
def test_a_managed_group_is_checked_as_cdk_json_checks_it(value: str, message: str) -> None:
    assert message in refused({"REGISTRAR_MANAGED_GROUPS": value})


def test_valid_managed_groups_are_kept() -> None:
    value = "churn-*,fraud-*,credit-risk"
    assert Settings.from_environment({"REGISTRAR_MANAGED_GROUPS": value}).managed_groups == [
        "churn-*",
        "fraud-*",
        "credit-risk",
    ]
