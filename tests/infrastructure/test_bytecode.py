"""CPython 3.13 bytecode in the layer, so Lambda does not compile it on every cold start.

The tests that compile need a CPython 3.13 (``python3.13`` on PATH, pyenv's, or
``REGISTRAR_BYTECODE_PYTHON``) and are skipped, saying so, without one.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import stat
import subprocess
import sys
import textwrap

import pytest

from infra import layer
from registrar.errors import ConfigurationError

from .conftest import ROOT, Synthesized, cdk_json_context
from .test_layer import staged_layer

VARIABLE = layer.BYTECODE_PYTHON_VARIABLE
UNCHECKED_HASH = 0b01  # the .pyc flags word: hash-based, not checked against the source


@pytest.fixture(scope="session")
def python313() -> str:
    python = layer.find_bytecode_python()
    if python is None:
        pytest.skip(f"no CPython 3.13 to compile with: put python3.13 on PATH or set {VARIABLE}")
    return python


@pytest.fixture(scope="session")
def magic(python313: str) -> bytes:
    """The interpreter's own .pyc magic number (``importlib.util.MAGIC_NUMBER``)."""
    script = "import importlib.util; print(importlib.util.MAGIC_NUMBER.hex())"
    return bytes.fromhex(subprocess.run([python313, "-c", script], capture_output=True, text=True, check=True).stdout)


def fake_interpreter(directory: pathlib.Path, script: str) -> pathlib.Path:
    path = directory / "python3.13"
    path.write_text("#!/bin/sh\n" + textwrap.dedent(script))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


PYENV_SHIM = """\
echo "pyenv: python3.13: command not found" >&2
exit 127
"""
PYTHON_311_IN_DISGUISE = """\
printf '(3, 11)\\ncpython\\n3.11.7\\n/usr/bin/python3.11\\n'
"""


def stray_bytecode(root: pathlib.Path) -> list[pathlib.Path]:
    """Bytecode Lambda's Python 3.13 would not read: another version's, or outside ``__pycache__``."""
    return [
        path
        for path in root.rglob("*.py[co]")
        if not (path.parent.name == "__pycache__" and path.name.endswith(".cpython-313.pyc"))
    ]


def assert_compiled_for_lambda(module: pathlib.Path, magic: bytes) -> None:
    compiled = module.parent / "__pycache__" / f"{module.stem}.cpython-313.pyc"
    assert compiled.is_file(), f"{module} has no 3.13 bytecode"
    header = compiled.read_bytes()[:16]
    assert header[:4] == magic, f"{compiled} is not 3.13 bytecode"
    assert int.from_bytes(header[4:8], "little") == UNCHECKED_HASH, f"{compiled} is not unchecked-hash"


# --- finding the interpreter ---------------------------------------------------------------------


@pytest.mark.parametrize("candidate", ["missing", "pyenv shim", "3.11"])
def test_a_variable_that_is_no_working_python313_is_an_error_naming_it(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, candidate: str
) -> None:
    if candidate == "missing":
        path = tmp_path / "no-such-python"
    else:
        path = fake_interpreter(tmp_path, PYENV_SHIM if candidate == "pyenv shim" else PYTHON_311_IN_DISGUISE)
    monkeypatch.setenv(VARIABLE, str(path))
    with pytest.raises(ConfigurationError, match=re.escape(f"{VARIABLE}={path} is not a working CPython 3.13")):
        layer.find_bytecode_python()


def test_synth_with_a_bad_variable_stops_naming_it_without_a_traceback(tmp_path: pathlib.Path) -> None:
    # GIVEN the CLI's environment with cdk.json's context, and a variable naming no interpreter
    env = {
        **os.environ,
        "CDK_OUTDIR": str(tmp_path),
        "CDK_CONTEXT_JSON": json.dumps(cdk_json_context()),
        VARIABLE: str(tmp_path / "no-such-python"),
    }
    # WHEN the app runs
    done = subprocess.run(
        [sys.executable, str(ROOT / "app.py")], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    # THEN synth stops before writing a template, naming the variable
    assert done.returncode == 2
    assert f"registrar: {VARIABLE}={tmp_path / 'no-such-python'} is not a working CPython 3.13" in done.stderr
    assert "Traceback" not in done.stderr
    assert not list(tmp_path.glob("*.template.json"))


def test_without_python313_on_path_there_is_no_interpreter(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    assert layer.find_bytecode_python() is None


@pytest.mark.parametrize("script", [PYENV_SHIM, PYTHON_311_IN_DISGUISE], ids=["pyenv shim", "3.11"])
def test_a_python313_on_path_that_does_not_run_as_313_counts_as_absent(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, script: str
) -> None:
    fake_interpreter(tmp_path, script)
    monkeypatch.delenv(VARIABLE, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    assert layer.find_bytecode_python() is None


def test_an_installed_but_unselected_pyenv_313_is_found_newest_first(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN no python3.13 on PATH, and pyenv holding 3.13.1, 3.13.10 and a 3.12
    monkeypatch.delenv(VARIABLE, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    for version in ("3.13.1", "3.13.10", "3.12.1"):
        directory = tmp_path / "versions" / version / "bin"
        directory.mkdir(parents=True)
        script = f"printf '(3, {version.split('.')[1]})\\ncpython\\n{version}\\n%s\\n' \"$0\""
        fake_interpreter(directory, script)
    # WHEN the interpreter is looked for
    found = layer.find_bytecode_python()
    # THEN it is pyenv's newest 3.13 (10 > 1: versions compare as numbers)
    assert found == str(tmp_path / "versions" / "3.13.10" / "bin" / "python3.13")


def test_the_variable_names_the_interpreter_even_off_path(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, python313: str
) -> None:
    monkeypatch.setenv(VARIABLE, python313)
    monkeypatch.setenv("PATH", str(tmp_path))
    found = layer.find_bytecode_python()
    assert found is not None
    assert os.path.samefile(found, python313)


def test_without_an_interpreter_synth_says_what_it_costs(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    assert layer.bytecode_python() is None
    [line] = capsys.readouterr().err.splitlines()
    assert "without bytecode" in line
    assert "cold start" in line
    assert VARIABLE in line


# --- compiling -------------------------------------------------------------------------------------

FAKE_PIP = """
import pathlib, sys
site = pathlib.Path(sys.argv[1])
files = {
    "pkg/__init__.py": "",
    "pkg/core.py": "VALUE = 1\\n",
    "pkg/tests/test_core.py": "def test(): pass\\n",
    "pkg/__pycache__/core.cpython-311.pyc": "stale",
    "pkg-1.0.dist-info/METADATA": "Metadata-Version: 2.1\\nName: pkg\\nVersion: 1.0\\n",
    "pkg-1.0.dist-info/RECORD": "",
}
for name, text in files.items():
    (site / name).parent.mkdir(parents=True, exist_ok=True)
    (site / name).write_text(text)
"""


def test_a_compiled_layer_ships_unchecked_313_bytecode_and_no_other(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, python313: str, magic: bytes
) -> None:
    # GIVEN pip installs a package with its tests and a 3.11 .pyc
    monkeypatch.setattr(layer, "pip_command", lambda _lock, target, _platform: [sys.executable, "-c", FAKE_PIP, target])
    lock = tmp_path / "runtime.txt"
    lock.write_text("pkg==1.0\n")
    # WHEN the layer is built with a 3.13, and without one
    compiled = layer.build(lock, tmp_path / "cache", python=python313) / "python"
    plain = layer.build(lock, tmp_path / "cache", python=None) / "python"
    # THEN the compiled build has 3.13 bytecode for every module, and only that
    assert compiled != plain
    for module in ("pkg/__init__.py", "pkg/core.py"):
        assert_compiled_for_lambda(compiled / module, magic)
    assert stray_bytecode(compiled) == []
    assert not (compiled / "pkg" / "tests").exists()
    # AND the uncompiled build has no bytecode at all
    assert not list(plain.rglob("*.pyc"))


def test_a_module_313_cannot_compile_fails_the_build_and_says_which(tmp_path: pathlib.Path, python313: str) -> None:
    (tmp_path / "broken.py").write_text("def broken(:\n")
    with pytest.raises(layer.CompileError, match=r"broken\.py"):
        layer.compile_bytecode(python313, tmp_path, runtime_path="/var/task")


# --- the synthesized stack -------------------------------------------------------------------------


def test_no_asset_holds_bytecode_lambda_would_not_read(synthesized: Synthesized) -> None:
    assert stray_bytecode(staged_layer(synthesized)) == []
    assert stray_bytecode(synthesized.function_asset()) == []


def test_synthesized_layer_and_function_code_ship_313_bytecode(
    synthesized: Synthesized, python313: str, magic: bytes
) -> None:
    site = staged_layer(synthesized) / "python"
    for module in ("pydantic/main.py", "aws_lambda_powertools/logging/logger.py", "botocore/client.py"):
        assert_compiled_for_lambda(site / module, magic)
    asset = synthesized.function_asset()
    for module in ("handlers/approval.py", "registrar/batch.py", "registrar/approval/service.py"):
        assert_compiled_for_lambda(asset / module, magic)


def test_function_code_bytecode_names_lambdas_paths(synthesized: Synthesized, python313: str) -> None:
    # A traceback in Lambda names /var/task/..., where the code runs, not the build machine's checkout
    script = "import marshal, sys; data = open(sys.argv[1], 'rb').read()[16:]; print(marshal.loads(data).co_filename)"
    compiled = synthesized.function_asset() / "registrar" / "__pycache__" / "batch.cpython-313.pyc"
    done = subprocess.run([python313, "-c", script, str(compiled)], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "/var/task/registrar/batch.py"
