"""Fixtures for the Neo unit tests: an in-memory SageMaker holding the churn-model package, version 1."""

from __future__ import annotations

import pytest

from tests.unit.neo.fakes import FakeBus, FakeRegistry, model_package


@pytest.fixture
def registry() -> FakeRegistry:
    """SageMaker with the package ``churn-model/1`` and no compilation jobs yet."""
    return FakeRegistry(packages=[model_package()])


@pytest.fixture
def bus() -> FakeBus:
    return FakeBus()
