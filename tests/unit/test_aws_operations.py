"""registrar.aws.OPERATIONS holds every AWS call the runtime makes: the layer keeps botocore's models to it.

A call missing from the list would work here (the development environment's botocore is whole) and fail
in Lambda with AttributeError; this reads every client call and paginator in functions/registrar and
looks each one up in the list, with botocore's own names.
"""

from __future__ import annotations

import ast
import pathlib

import botocore.session
import pytest
from botocore import xform_name

from registrar.aws import OPERATIONS
from tests.conftest import ROOT

RUNTIME = ROOT / "functions" / "registrar"
# Method names of a botocore client that are not API operations.
CLIENT_HELPERS = frozenset({"get_paginator", "can_paginate", "get_waiter", "close", "cache_clear"})


def calls_in(tree: ast.AST) -> set[str]:
    """``x.client.<name>(...)`` and ``client.<name>(...)`` method names, and ``get_paginator("<name>")`` names."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner = node.func.value
        owner_name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
        if owner_name != "client":
            continue
        if node.func.attr == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
            found.add(str(node.args[0].value))
        elif node.func.attr not in CLIENT_HELPERS:
            found.add(node.func.attr)
    return found


def runtime_calls() -> dict[str, list[str]]:
    """Each client method name called in the runtime package, and the files calling it."""
    calls: dict[str, list[str]] = {}
    for path in sorted(RUNTIME.rglob("*.py")):
        for name in calls_in(ast.parse(path.read_text(encoding="utf-8"))):
            calls.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return calls


def listed_methods() -> set[str]:
    return {xform_name(operation) for operations in OPERATIONS.values() for operation in operations}


def test_every_listed_operation_is_one_of_its_services_in_botocore() -> None:
    session = botocore.session.get_session()
    for service, operations in OPERATIONS.items():
        known = set(session.get_service_model(service).operation_names)
        assert set(operations) <= known, (service, sorted(set(operations) - known))


def test_every_call_of_the_runtime_is_a_listed_operation() -> None:
    # GIVEN every client call and paginator in functions/registrar WHEN looked up in OPERATIONS
    calls = runtime_calls()
    # THEN each is listed (the sweep's, the registry's, the reports', the bus', the watermark's)
    assert calls, "no client call found: the scan is broken"
    unlisted = {name: files for name, files in calls.items() if name not in listed_methods()}
    assert unlisted == {}


def test_the_scan_finds_a_call_and_a_paginator(tmp_path: pathlib.Path) -> None:
    # The check above must be able to fail
    source = "def f(self):\n    self.client.delete_model_package(X=1)\n    self.client.get_paginator('list_models')\n"
    assert calls_in(ast.parse(source)) == {"delete_model_package", "list_models"}


@pytest.mark.parametrize(
    ("method", "operation"), [("describe_model_package", "DescribeModelPackage"), ("get_object", "GetObject")]
)
def test_a_method_name_is_botocores_name_of_its_operation(method: str, operation: str) -> None:
    assert xform_name(operation) == method
