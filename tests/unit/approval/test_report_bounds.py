"""Bounded work for hostile reports: values and depth are counted on the text, before anything is parsed.

check_structure() counts; parse_report() refuses what it counts over the limits (50,000 values, 64 levels).
"""

from __future__ import annotations

import pytest

import registrar.reports as report_module
from registrar.reports import MAX_VALUES, ReportNotJsonError, parse_report

URI = "s3://reports/churn-model/1/evaluation.json"


def array_of_values(count: int) -> bytes:
    """A JSON array holding ``count`` values in all: the array itself and ``count - 1`` numbers."""
    return b"[" + b",".join(b"0" for _ in range(count - 1)) + b"]"


# --- how many values --------------------------------------------------------------------------------


def test_a_report_of_as_many_values_as_allowed_is_parsed() -> None:
    # GIVEN an array holding MAX_VALUES - 1 numbers (MAX_VALUES values with the array) WHEN parsed THEN accepted
    assert len(parse_report(array_of_values(MAX_VALUES), URI)) == MAX_VALUES - 1


def test_a_report_of_one_value_more_is_refused() -> None:
    # GIVEN one value more WHEN parsed THEN refused, naming the limit
    with pytest.raises(ReportNotJsonError, match=f"report {URI} holds more than {MAX_VALUES} values"):
        parse_report(array_of_values(MAX_VALUES + 1), URI)


def test_a_five_megabyte_report_of_empty_objects_is_refused() -> None:
    # GIVEN the report of the issue: 5,241,073 bytes of {} elements, which took the handler to 340 MiB
    data = b"[" + b"{},{}," * (5_241_073 // 6) + b"{}]"
    assert len(data) <= 5 * 1024 * 1024
    # WHEN parsed THEN refused as too many values, not materialized
    with pytest.raises(ReportNotJsonError, match=f"holds more than {MAX_VALUES} values"):
        parse_report(data, URI)


def test_the_values_are_counted_on_the_text() -> None:
    # GIVEN text with 4 values (an object, a number, a list, a number in it) and text with 5 (another number)
    # WHEN counted against a limit of 4 THEN the first passes and the second is refused
    report_module.check_structure('{"a": 1, "b": [2]}', max_values=4)
    with pytest.raises(ReportNotJsonError, match="holds more than 4 values"):
        report_module.check_structure('{"a": 1, "b": [2, 3]}', max_values=4)


# --- how deep -----------------------------------------------------------------------------------------


def test_64_levels_are_parsed_and_65_refused() -> None:
    # GIVEN arrays nested 64 and 65 levels deep WHEN parsed THEN the first is accepted, the second refused
    assert parse_report(b"[" * 64 + b"]" * 64, URI) is not None
    with pytest.raises(ReportNotJsonError, match="nests deeper than 64 levels"):
        parse_report(b"[" * 65 + b"]" * 65, URI)


def nested(levels: int) -> str:
    """Objects and arrays alternating, ``levels`` deep: {"a": [{"a": [ ... ]}]}."""
    opening = "".join('{"a": ' if level % 2 == 0 else "[" for level in range(levels))
    closing = "".join("}" if level % 2 == 0 else "]" for level in reversed(range(levels)))
    return opening + "1" + closing


def test_depth_is_checked_on_the_text() -> None:
    # GIVEN objects and arrays nested 64 and 65 levels WHEN the text is checked THEN 64 passes, 65 is refused
    report_module.check_structure(nested(64))
    with pytest.raises(ReportNotJsonError, match="nests deeper than 64 levels"):
        report_module.check_structure(nested(65))


# --- strings are not structure ----------------------------------------------------------------------


def test_brackets_and_commas_inside_strings_are_not_counted() -> None:
    # GIVEN a report whose one string value holds 100,000 commas and 1,000 opening brackets
    text = '{"note": "' + "," * 100_000 + "[{" * 1_000 + '", "auc": 0.9}'
    # WHEN checked with tight limits THEN accepted: 3 values (the object, the string, the number), 1 level
    report_module.check_structure(text, max_values=3, max_nesting=1)
    assert parse_report(text.encode(), URI)["auc"] == 0.9


@pytest.mark.parametrize(
    ("text", "values", "depth"),
    [
        pytest.param(r'["a\"[[[,,,", 1]', 3, 1, id="escaped-quote-inside"),
        pytest.param(r'["a\\", [1, 2]]', 5, 2, id="escaped-backslash-before-the-closing-quote"),
        pytest.param(r'{"k\"[": "\\\"{,", "v": {"w": []}}', 4, 3, id="escaped-quotes-in-keys-and-values"),
    ],
)
def test_escaped_quotes_do_not_end_a_string(text: str, values: int, depth: int) -> None:
    # GIVEN strings holding escaped quotes and backslashes WHEN counted THEN exactly their values and depth:
    # within those limits accepted, one under either refused
    report_module.check_structure(text, max_values=values, max_nesting=depth)
    with pytest.raises(ReportNotJsonError, match="values"):
        report_module.check_structure(text, max_values=values - 1, max_nesting=depth)
    with pytest.raises(ReportNotJsonError, match="nests deeper"):
        report_module.check_structure(text, max_values=values, max_nesting=depth - 1)
    assert parse_report(text.encode(), URI) is not None
