"""The dependencies layer: the runtime lock file, SDK included, built for arm64 CPython 3.13, botocore's data pruned."""

from __future__ import annotations

import gzip
import json
import pathlib
import sys
import tomllib
from importlib import metadata
from typing import Any

import pytest

from infra import layer
from registrar.aws import OPERATIONS, SERVICES

from .conftest import ROOT, Synthesized


def staged_layer(synthesized: Synthesized) -> pathlib.Path:
    [properties] = synthesized.properties("AWS::Lambda::LayerVersion").values()
    asset_hash = properties["Content"]["S3Key"].removesuffix(".zip")
    return synthesized.outdir / f"asset.{asset_hash}"


def test_the_layer_is_the_runtime_lock_file_the_sdk_included() -> None:
    # GIVEN the lock file synth builds the layer from WHEN its pins are read
    pins = {pin.split("==")[0]: pin.split("==")[1] for pin in layer.lock_pins(ROOT / layer.LOCK_FILE)}
    # THEN boto3 and botocore are in it, at the versions this test environment runs, and so is the rest
    for name in ("boto3", "botocore", "aws-lambda-powertools", "pydantic", "pydantic-core", "aws-xray-sdk"):
        assert pins[name] == metadata.version(name), name
    # AND nothing of the development extra is
    assert {"moto", "aws-cdk-lib", "pytest"}.isdisjoint(pins)


def test_every_runtime_dependency_of_pyproject_is_locked_at_its_pin() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    locked = set(layer.lock_pins(ROOT / layer.LOCK_FILE))
    for requirement in project["dependencies"]:
        name, version = requirement.split("==")
        assert f"{layer.normalize(name.split('[')[0])}=={version}" in locked, requirement


def test_the_layer_carries_jinja2_for_the_decision_page() -> None:
    # The page renders with Jinja2 (autoescape): a runtime dependency, locked with MarkupSafe at the versions tested
    pins = {pin.split("==")[0]: pin.split("==")[1] for pin in layer.lock_pins(ROOT / layer.LOCK_FILE)}
    assert pins["jinja2"] == metadata.version("jinja2")
    assert pins["markupsafe"] == metadata.version("markupsafe")
    # AND the browser tests' Playwright is not in it
    assert {"playwright", "greenlet"}.isdisjoint(pins)


def test_an_unpinned_line_in_the_lock_file_is_refused(tmp_path: pathlib.Path) -> None:
    (tmp_path / "runtime.txt").write_text("pydantic>=2 \\\n    --hash=sha256:00\n")
    with pytest.raises(ValueError, match="pinned with =="):
        layer.lock_pins(tmp_path / "runtime.txt")


def test_the_cache_key_follows_the_lock_the_compiler_and_the_platform() -> None:
    assert layer.digest("a==1", bytecode="none") != layer.digest("a==2", bytecode="none")
    keys = {layer.digest("a==1", bytecode=version) for version in ("none", "3.13.0", "3.13.1")}
    assert len(keys) == 3
    assert layer.digest("a==1", bytecode="none") != layer.digest(
        "a==1", bytecode="none", platform=layer.Platform("manylinux2014_x86_64", "3.11")
    )


def test_pip_installs_exactly_the_lock_files_hashed_arm64_cpython_313_wheels() -> None:
    command = layer.pip_command(pathlib.Path("requirements/runtime.txt"), pathlib.Path("/out/python"))
    assert command[command.index("--platform") + 1] == "manylinux2014_aarch64"
    assert command[command.index("--python-version") + 1] == "3.13"
    assert command[command.index("-r") + 1] == "requirements/runtime.txt"
    assert {"--only-binary=:all:", "--no-deps", "--require-hashes"} <= set(command)


def test_staged_layer_holds_arm64_cp313_binaries_and_the_sdk(synthesized: Synthesized) -> None:
    site = staged_layer(synthesized) / "python"
    assert (site / "aws_lambda_powertools").is_dir()
    assert (site / "aws_xray_sdk").is_dir()
    [core] = list((site / "pydantic_core").glob("_pydantic_core*.so"))
    assert "cpython-313-aarch64" in core.name
    # The SDK ships in the layer, at the versions the tests run
    for name in ("boto3", "botocore"):
        [info] = list(site.glob(f"{name}-*.dist-info"))
        assert info.name == f"{name}-{metadata.version(name)}.dist-info"
    # botocore's data holds the services registrar calls and nothing else
    services = {path.name for path in (site / "botocore" / "data").iterdir() if path.is_dir()}
    assert services == layer.KEPT_SERVICES
    # Bytecode, if any, is CPython 3.13's (tests/infrastructure/test_bytecode.py): nothing the build machine wrote
    assert not list(site.rglob("*.cpython-311.pyc"))
    assert not [path for path in site.rglob("*.py[co]") if not path.name.endswith(".cpython-313.pyc")]


def test_the_layer_and_the_function_code_fit_lambdas_50_mb(synthesized: Synthesized) -> None:
    size = sum(path.stat().st_size for path in staged_layer(synthesized).rglob("*") if path.is_file())
    size += sum(path.stat().st_size for path in synthesized.function_asset().rglob("*") if path.is_file())
    assert size <= 50 * 1000 * 1000


def fake_distribution(site: pathlib.Path, name: str, version: str, files: list[str]) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    for file in files:
        (site / file).parent.mkdir(parents=True, exist_ok=True)
        (site / file).write_text("")
    record = [*files, f"{info.name}/METADATA", f"{info.name}/RECORD"]
    (info / "RECORD").write_text("".join(f"{path},,\n" for path in record))


def fake_model(operations: list[str]) -> dict[str, Any]:
    """A service model of ``operations``, each with an input shape of its own, all sharing one string shape."""
    return {
        "version": "2.0",
        "metadata": {"protocol": "json", "serviceId": "fake"},
        "operations": {
            name: {"name": name, "input": {"shape": f"{name}Input"}, "documentation": "d"} for name in operations
        },
        "shapes": {
            "Text": {"type": "string", "documentation": "d"},
            **{f"{name}Input": {"type": "structure", "members": {"Name": {"shape": "Text"}}} for name in operations},
        },
    }


def fake_botocore_data(site: pathlib.Path) -> pathlib.Path:
    data = site / "botocore" / "data"
    for service in ("sagemaker", "s3", "sqs", "ec2"):
        (data / service / "2020-01-01").mkdir(parents=True)
        model = fake_model([*OPERATIONS.get(service, ()), "DeleteEverything"])
        (data / service / "2020-01-01" / "service-2.json.gz").write_bytes(gzip.compress(json.dumps(model).encode()))
        (data / service / "2020-01-01" / "examples-1.json").write_text("{}")
    endpoints = {"partitions": [{"partition": "aws", "services": {"sagemaker": {}, "s3": {}, "ec2": {}, "sqs": {}}}]}
    (data / "endpoints.json").write_text(json.dumps(endpoints))
    (data / "partitions.json").write_text("{}")
    return data


def test_prune_removes_scripts_tests_and_bytecode_and_keeps_the_rest(tmp_path: pathlib.Path) -> None:
    # GIVEN a target directory with scripts, a package's tests and bytecode
    fake_distribution(tmp_path, "pydantic", "2.14.4", ["pydantic/__init__.py", "pydantic/__pycache__/x.pyc"])
    fake_distribution(tmp_path, "pkg", "1.0", ["pkg/__init__.py", "pkg/tests/test_x.py"])
    (tmp_path / "bin").mkdir()
    # WHEN it is pruned
    remaining = layer.prune(tmp_path)
    # THEN scripts, tests and bytecode (compiled again afterwards, with 3.13) are gone, and the packages stay
    assert remaining == ["pkg==1.0", "pydantic==2.14.4"]
    assert not (tmp_path / "bin").exists()
    assert not (tmp_path / "pkg" / "tests").exists()
    assert not (tmp_path / "pydantic" / "__pycache__").exists()


def test_botocore_data_keeps_the_services_asked_for_and_their_endpoints_alone(tmp_path: pathlib.Path) -> None:
    # GIVEN botocore's data for four services WHEN pruned to two
    data = fake_botocore_data(tmp_path)
    layer.prune_botocore_data(data, frozenset({"sagemaker", "s3"}))
    # THEN their models stay (examples go), the others are gone, and endpoints.json names the two alone
    assert sorted(path.name for path in data.iterdir() if path.is_dir()) == ["s3", "sagemaker"]
    # and are inflated: botocore reads a plain .json first, without decompressing it on every cold start
    assert not list(data.rglob("*.gz"))
    # and hold the operations registrar calls alone, with the shapes they reach, without documentation
    model = json.loads((data / "sagemaker" / "2020-01-01" / "service-2.json").read_text())
    assert sorted(model["operations"]) == sorted(OPERATIONS["sagemaker"])
    assert "DeleteEverythingInput" not in model["shapes"]
    assert model["shapes"]["Text"] == {"type": "string"}
    assert model["metadata"] == {"protocol": "json", "serviceId": "fake"}
    assert not list(data.rglob("examples-1.json"))
    [partition] = json.loads((data / "endpoints.json").read_text())["partitions"]
    assert sorted(partition["services"]) == ["s3", "sagemaker"]
    assert (data / "partitions.json").is_file()


def test_a_service_botocore_does_not_know_stops_the_build(tmp_path: pathlib.Path) -> None:
    # A misspelt service would otherwise be pruned away, and its client fail only in Lambda
    data = fake_botocore_data(tmp_path)
    with pytest.raises(ValueError, match="sagemakr"):
        layer.prune_botocore_data(data, frozenset({"sagemakr"}))


def test_the_kept_services_are_those_registrar_calls_and_the_xray_sdk_samples_with() -> None:
    assert {*SERVICES, "xray"} == layer.KEPT_SERVICES


def test_a_failed_pip_run_says_why_and_leaves_no_cache_behind(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = [sys.executable, "-c", "import sys; print('no matching distribution', file=sys.stderr); sys.exit(1)"]
    monkeypatch.setattr(layer, "pip_command", lambda _lock, _target, _platform: failing)
    lock = tmp_path / "runtime.txt"
    lock.write_text("pydantic==2.14.4\n")
    cache = tmp_path / "cache"
    with pytest.raises(layer.LayerBuildError, match="no matching distribution"):
        layer.build(lock, cache)
    assert list(cache.iterdir()) == []
