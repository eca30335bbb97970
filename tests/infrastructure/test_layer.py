"""The dependencies layer: pins from pyproject.toml, built for arm64 CPython 3.13 without what Lambda ships."""

from __future__ import annotations

import pathlib
import sys

import pytest

from infra import layer

from .conftest import ROOT, Synthesized


def staged_layer(synthesized: Synthesized) -> pathlib.Path:
    [properties] = synthesized.properties("AWS::Lambda::LayerVersion").values()
    asset_hash = properties["Content"]["S3Key"].removesuffix(".zip")
    return synthesized.outdir / f"asset.{asset_hash}"


def test_requirements_are_the_runtime_pins_less_what_lambda_provides() -> None:
    requirements = layer.layer_requirements(ROOT / "pyproject.toml")
    names = {layer._name(r) for r in requirements}
    assert names.isdisjoint({"boto3", "botocore", "jmespath"})
    assert {"aws-lambda-powertools", "pydantic", "pyyaml", "aws-xray-sdk"} <= names
    assert any(r.startswith("aws-lambda-powertools[tracer]==") for r in requirements)
    assert all("==" in r for r in requirements)


def test_an_unpinned_requirement_is_refused(tmp_path: pathlib.Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\ndependencies = ["pydantic>=2"]\n[project.optional-dependencies]\ndev = ["aws-xray-sdk==2.15.0"]\n'
    )
    with pytest.raises(ValueError, match="pinned with =="):
        layer.layer_requirements(tmp_path / "pyproject.toml")


def test_the_cache_key_follows_the_pins() -> None:
    assert layer.digest(["pydantic==2.14.4"], bytecode="none") != layer.digest(["pydantic==2.14.5"], bytecode="none")
    assert layer.digest(["a==1", "b==2"], bytecode="none") == layer.digest(["b==2", "a==1"], bytecode="none")


def test_the_cache_key_tells_a_compiled_layer_from_a_plain_one_and_names_the_compiler() -> None:
    keys = {layer.digest(["pydantic==2.14.4"], bytecode=version) for version in ("none", "3.13.0", "3.13.1")}
    assert len(keys) == 3


def test_pip_installs_arm64_cpython_313_wheels_only() -> None:
    command = layer.pip_command(["pydantic==2.14.4"], pathlib.Path("/out/python"))
    assert command[command.index("--platform") + 1] == "manylinux2014_aarch64"
    assert command[command.index("--python-version") + 1] == "3.13"
    assert "--only-binary=:all:" in command


def test_staged_layer_holds_arm64_cp313_binaries_and_nothing_lambda_ships(synthesized: Synthesized) -> None:
    site = staged_layer(synthesized) / "python"
    assert (site / "aws_lambda_powertools").is_dir()
    assert (site / "aws_xray_sdk").is_dir()
    [core] = list((site / "pydantic_core").glob("_pydantic_core*.so"))
    assert "cpython-313-aarch64" in core.name
    for provided in ("boto3", "botocore", "jmespath", "s3transfer", "urllib3", "dateutil"):
        assert not (site / provided).exists(), provided
    # Bytecode, if any, is CPython 3.13's (tests/infrastructure/test_bytecode.py): nothing the build machine wrote
    assert not list(site.rglob("*.cpython-311.pyc"))
    assert not [path for path in site.rglob("*.py[co]") if not path.name.endswith(".cpython-313.pyc")]


def fake_distribution(site: pathlib.Path, name: str, version: str, files: list[str]) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    for file in files:
        (site / file).parent.mkdir(parents=True, exist_ok=True)
        (site / file).write_text("")
    record = [*files, f"{info.name}/METADATA", f"{info.name}/RECORD"]
    (info / "RECORD").write_text("".join(f"{path},,\n" for path in record))


def test_prune_removes_what_lambda_ships_and_keeps_the_rest(tmp_path: pathlib.Path) -> None:
    # GIVEN a target directory where pip also installed botocore (the X-Ray SDK depends on it)
    fake_distribution(tmp_path, "botocore", "1.44.8", ["botocore/__init__.py", "botocore/data/x.json"])
    fake_distribution(tmp_path, "pydantic", "2.14.4", ["pydantic/__init__.py", "pydantic/__pycache__/x.pyc"])
    (tmp_path / "bin").mkdir()
    # WHEN it is pruned
    remaining = layer.prune(tmp_path)
    # THEN botocore, scripts and bytecode (compiled again afterwards, with 3.13) are gone, and pydantic is whole
    assert remaining == ["pydantic==2.14.4"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pydantic", "pydantic-2.14.4.dist-info"]
    assert not (tmp_path / "pydantic" / "__pycache__").exists()


def test_a_failed_pip_run_says_why_and_leaves_no_cache_behind(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = [sys.executable, "-c", "import sys; print('no matching distribution', file=sys.stderr); sys.exit(1)"]
    monkeypatch.setattr(layer, "pip_command", lambda _requirements, _target: failing)
    with pytest.raises(layer.LayerBuildError, match="no matching distribution"):
        layer.build(["pydantic==2.14.4"], tmp_path)
    assert list(tmp_path.iterdir()) == []
