"""registrar.aws error helpers: what an AWS error says, read from a botocore ClientError built by hand (no network)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from registrar.aws import NOT_FOUND, error_code, error_message, error_name, is_not_found


def client_error(
    code: str | None, message: str | None = "refused", operation: str = "DescribeModelPackage"
) -> ClientError:
    """A ClientError as botocore raises it for an error response (``None`` leaves a member out)."""
    error: dict[str, str] = {}
    if code is not None:
        error["Code"] = code
    if message is not None:
        error["Message"] = message
    response: Any = {"Error": error}
    return ClientError(response, operation)


def test_the_code_and_message_are_the_services() -> None:
    # GIVEN a ClientError for a throttled call WHEN read THEN its code, its message and its name are AWS's
    error = client_error("ThrottlingException", "Rate exceeded")
    assert error_code(error) == "ThrottlingException"
    assert error_message(error) == "Rate exceeded"
    assert error_name(error) == "ThrottlingException"


def test_an_error_that_is_not_a_client_error_has_no_code() -> None:
    # GIVEN an exception of another kind WHEN read THEN no code; its own text and its type name instead
    error = KeyError("churn-model")
    assert error_code(error) is None
    assert error_message(error) == "'churn-model'"
    assert error_name(error) == "KeyError"
    assert not is_not_found(error)


def test_a_client_error_without_a_code_is_named_by_its_type() -> None:
    # GIVEN a ClientError whose response carries no code WHEN read THEN no code, and the type names it
    error = client_error(None, "something went wrong")
    assert error_code(error) is None
    assert error_name(error) == "ClientError"
    assert error_message(error) == "something went wrong"


def test_without_a_message_the_exceptions_own_text_is_given() -> None:
    # GIVEN a ClientError without a message WHEN its message is read THEN botocore's text of it
    error = client_error("AccessDeniedException", None)
    assert error_message(error) == str(error)
    assert "AccessDeniedException" in error_message(error)


def test_a_response_that_is_not_a_mapping_is_ignored() -> None:
    # GIVEN an exception whose response attribute is not a dict WHEN read THEN as an exception without a response
    error = RuntimeError("boom")
    error.response = "not a dict"  # type: ignore[attr-defined]
    assert error_code(error) is None
    assert error_message(error) == "boom"
    assert error_name(error) == "RuntimeError"


def test_the_message_is_cut_to_the_limit() -> None:
    # GIVEN a long message WHEN read THEN at most 300 characters by default, or the limit given
    error = client_error("ValidationException", "x" * 1000)
    assert error_message(error) == "x" * 300
    assert error_message(error, limit=20) == "x" * 20


@pytest.mark.parametrize("code", sorted(NOT_FOUND))
def test_not_found_codes_mean_no_such_resource(code: str) -> None:
    # GIVEN SageMaker's ValidationException ("... does not exist") or a service's *NotFound code
    # WHEN asked whether the resource is missing THEN yes
    assert is_not_found(client_error(code, "ModelPackage arn:... does not exist."))


@pytest.mark.parametrize(
    "code", ["ThrottlingException", "AccessDeniedException", "ConflictException", "InternalFailure"]
)
def test_other_codes_do_not_mean_not_found(code: str) -> None:
    # GIVEN any other error code WHEN asked whether the resource is missing THEN no: the error is raised, not parked
    assert not is_not_found(client_error(code))


def test_the_not_found_codes_are_the_documented_ones() -> None:
    # GIVEN SageMaker's and the other services' "no such resource" codes THEN exactly those mean not found
    assert frozenset({"ValidationException", "ResourceNotFound", "ResourceNotFoundException"}) == NOT_FOUND
