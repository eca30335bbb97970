"""The fault injector itself: faults at the configured share, reproducible, limited, and gone when uninstalled."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from registrar import aws
from registrar_dev.faults import FaultInjector, FaultKind
from tests.reliability.world import World

CALLS = 100


def list_packages() -> Callable[[], Any]:
    """A call of registrar's own SageMaker client (the client is made now: it sees the installed injectors)."""
    client = aws.client("sagemaker")
    return lambda: client.list_model_packages(MaxResults=1)


def injected_kinds(seed: int) -> list[tuple[str, str]]:
    injector = FaultInjector(
        rate=0.3, seed=seed, weights={"server_error": 1.0, "connection_error": 1.0, "read_timeout": 1.0}
    ).install()
    try:
        call = list_packages()
        for _ in range(25):
            call()
    finally:
        injector.uninstall()
        aws.reset_clients()
    return sorted(injector.stats.injected.elements())


def test_random_faults_strike_about_the_configured_share_of_attempts(world: World) -> None:
    # GIVEN an injector failing 20 % of attempts with retried kinds
    injector = FaultInjector(rate=0.2, seed=3, weights={"server_error": 1.0, "connection_error": 1.0}).install()
    call = list_packages()
    # WHEN registrar's client makes many calls
    for _ in range(CALLS):
        call()
    # THEN about a fifth of the attempts failed, every call succeeded in the end, and retries are counted
    attempts = injector.stats.attempts["sagemaker.ListModelPackages"]
    assert 0.12 < injector.stats.total_injected / attempts < 0.28
    assert injector.stats.succeeded["sagemaker.ListModelPackages"] == CALLS
    assert injector.stats.retries == injector.stats.total_injected


def test_the_same_seed_injects_the_same_faults(world: World) -> None:
    # GIVEN two runs of the same calls with the same seed WHEN faults are drawn THEN they are the same
    assert injected_kinds(seed=11) == injected_kinds(seed=11)


def test_conflict_is_drawn_only_for_update_model_package(world: World) -> None:
    # GIVEN an injector whose random faults are all conflicts, at every attempt
    injector = FaultInjector(rate=1.0, weights={"conflict": 1.0}).install()
    # WHEN another operation is called THEN it is not struck
    list_packages()()
    assert injector.stats.total_injected == 0


@pytest.mark.parametrize("kind", ["access_denied", "conflict"])
def test_faults_botocore_does_not_retry_reach_the_caller_at_once(world: World, kind: FaultKind) -> None:
    # GIVEN one scripted fault of a kind no retry can fix
    injector = FaultInjector().install().fail_next(kind, operation="ListModelPackages")
    # WHEN the call is made THEN it raises the AWS error after one attempt
    with pytest.raises(aws.client("sagemaker").exceptions.ClientError):
        list_packages()()
    assert injector.stats.attempts["sagemaker.ListModelPackages"] == 1


def test_uninstalled_injector_leaves_clients_made_while_installed_alone(world: World) -> None:
    # GIVEN a client made while an injector failing every attempt was installed
    injector = FaultInjector().install().always_fail("server_error")
    call = list_packages()
    # WHEN the injector is uninstalled THEN that client's calls succeed and nothing more is counted
    injector.uninstall()
    call()
    assert injector.stats.attempts.total() == 0


def test_other_services_are_left_alone(world: World) -> None:
    # GIVEN an injector failing every SageMaker attempt WHEN registrar lists its SQS queues THEN no fault
    injector = FaultInjector(services={"sagemaker"}).install().always_fail("server_error")
    aws.client("sqs").list_queues()
    assert injector.stats.total_injected == 0
