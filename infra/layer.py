"""The dependencies layer, built without Docker: pip fetches manylinux aarch64 wheels for CPython 3.13.

CDK asks :class:`PipLayerBundler` to bundle the layer asset. The build runs pip in its own process
(so it needs PyPI, not Docker) and is cached under ``.build/layer-<digest>``, where the digest
covers the pins and every build option: a second synth, or the test suite's, copies the cache.

Lambda's file system is read-only, so a module shipped without its ``.pyc`` is compiled again on
every cold start. When a CPython 3.13 is at hand (:func:`find_bytecode_python`), the layer is
compiled with it (:func:`compile_bytecode`); the function code ships sources (``infra/shared.py``).
"""

from __future__ import annotations

import csv
import email.parser
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import aws_cdk as cdk
import jsii

from registrar.errors import ConfigurationError

PLATFORM: Final = "manylinux2014_aarch64"
PYTHON_VERSION: Final = "3.13"
IMPLEMENTATION: Final = "cp"
# Bump when the build or the pruning below changes, so every cached layer is rebuilt.
BUILD_VERSION: Final = "2"
# A path to the CPython 3.13 that compiles the layer's bytecode, when the one found is not the one wanted.
BYTECODE_PYTHON_VARIABLE: Final = "REGISTRAR_BYTECODE_PYTHON"
# Where Lambda puts a layer's python/ directory: the compiled code's file names point there.
LAYER_RUNTIME_PATH: Final = "/opt/python"
NO_BYTECODE_WARNING: Final = (
    "registrar: no working CPython 3.13 found (python3.13 on PATH, pyenv's, or the path in "
    f"{BYTECODE_PYTHON_VARIABLE}), so the layer ships without bytecode: Lambda's file system is read-only, "
    "and Python compiles every module it imports again on each cold start (~240 ms of CPU for the approval function)"
)
# Prints the interpreter's version as ``(3, 13)``, then its implementation, full version and own path.
_PROBE: Final = (
    "import platform, sys; print(sys.version_info[:2]); print(sys.implementation.name); "
    "print(platform.python_version()); print(sys.executable)"
)

# The Lambda Python runtime ships these (boto3 and its dependency tree). A second copy in the layer
# would shadow the runtime's and could pair a botocore with a boto3 it was not released with.
RUNTIME_PROVIDED: Final = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"}
)
# Powertools Tracer needs the X-Ray SDK, which the [tracer] extra brings; its pin lives in the dev extras.
EXTRAS: Final = {"aws-lambda-powertools": "tracer"}
ALSO_PINNED: Final = ("aws-xray-sdk",)

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class LayerBuildError(RuntimeError):
    """pip could not build the layer; the message carries pip's own output."""


class CompileError(RuntimeError):
    """compileall could not compile a module; the message carries its output."""


class _NotPython313Error(Exception):
    """A candidate interpreter is not a working CPython 3.13; the message says what it is instead."""


def normalize(name: str) -> str:
    """PEP 503 normalized distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _name(requirement: str) -> str:
    match = _NAME.match(requirement)
    if match is None:
        raise ValueError(f"cannot read a package name from {requirement!r}")
    return normalize(match.group(1))


def layer_requirements(pyproject: Path) -> list[str]:
    """The layer's pins: ``[project].dependencies`` less what the runtime provides, plus the X-Ray SDK.

    Raises
    ------
    ValueError
        A layer requirement is not pinned with ``==`` (the cache key would not identify the build).
    """
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    runtime = list(project.get("dependencies", []))
    dev = {_name(r): r for r in project.get("optional-dependencies", {}).get("dev", [])}
    chosen = {_name(r): r.strip() for r in runtime if _name(r) not in RUNTIME_PROVIDED}
    for name in ALSO_PINNED:
        if name not in chosen:
            if name not in dev:
                raise ValueError(f"{name} must be pinned in pyproject.toml (dependencies or the dev extra)")
            chosen[name] = dev[name].strip()
    unpinned = [r for r in chosen.values() if "==" not in r]
    if unpinned:
        raise ValueError(f"layer requirements must be pinned with ==: {', '.join(unpinned)}")
    result = []
    for name, requirement in sorted(chosen.items()):
        extra = EXTRAS.get(name)
        if extra and "[" not in requirement:
            head = _NAME.match(requirement)
            assert head is not None
            requirement = f"{head.group(1)}[{extra}]{requirement[head.end() :]}"
        result.append(requirement)
    return result


def _probe(python: str) -> tuple[str, str]:
    """Run ``python`` and return its own path and full version, if it is CPython 3.13.

    Raises
    ------
    _NotPython313Error
        It could not be run (missing, or a pyenv shim for a version that is not selected) or is
        another version or implementation.
    """
    try:
        done = subprocess.run([python, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise _NotPython313Error(f"it could not be run ({error})") from None
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise _NotPython313Error(f"it exited {done.returncode}" + (f" ({said[0]})" if said else ""))
    version, implementation, full_version, executable = [*done.stdout.splitlines(), "", "", "", ""][:4]
    if version != "(3, 13)" or implementation != "cpython":
        raise _NotPython313Error(f"it is {implementation} {full_version}".rstrip())
    return executable or python, full_version


def find_bytecode_python() -> str | None:
    """The CPython 3.13 to compile the layer with, or None if there is none.

    ``$REGISTRAR_BYTECODE_PYTHON`` if set (and not empty), else ``python3.13`` on PATH, else a 3.13
    that pyenv installed (``$PYENV_ROOT/versions/3.13*``, newest first) though it is not selected. A candidate
    counts once it has run and said it is CPython 3.13: a pyenv shim for a version that is not
    selected is on PATH but is no interpreter. The path returned is the interpreter's own
    ``sys.executable``, so a shim is resolved once, here.

    Raises
    ------
    registrar.errors.ConfigurationError
        ``$REGISTRAR_BYTECODE_PYTHON`` is set but is not a working CPython 3.13.
    """
    chosen = os.environ.get(BYTECODE_PYTHON_VARIABLE, "")
    if chosen:
        try:
            return _probe(chosen)[0]
        except _NotPython313Error as error:
            raise ConfigurationError(
                f"{BYTECODE_PYTHON_VARIABLE}={chosen} is not a working CPython 3.13 interpreter: {error}; "
                f"point it at one, or unset it to look for python3.13 on PATH and in pyenv"
            ) from None
    for candidate in _candidates():
        try:
            return _probe(candidate)[0]
        except _NotPython313Error:
            continue
    return None


def _candidates() -> list[str]:
    """``python3.13`` on PATH, then pyenv's 3.13 installs, newest first (installed, though not selected)."""
    found = shutil.which("python3.13")
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    installed = sorted(
        pyenv.glob("3.13*/bin/python3.13"),
        key=lambda path: [int(part) if part.isdigit() else -1 for part in path.parents[1].name.split(".")],
        reverse=True,
    )
    return ([found] if found else []) + [str(path) for path in installed]


def bytecode_python() -> str | None:
    """:func:`find_bytecode_python`, saying on stderr what a build without bytecode costs when there is none."""
    python = find_bytecode_python()
    if python is None:
        print(NO_BYTECODE_WARNING, file=sys.stderr)
    return python


@functools.cache
def bytecode_version(python: str | None) -> str:
    """The exact version of the interpreter compiling the bytecode (``3.13.0``), or ``none`` without one."""
    if python is None:
        return "none"
    try:
        return _probe(python)[1]
    except _NotPython313Error as error:
        raise CompileError(f"{python} no longer runs as CPython 3.13: {error}") from None


def compile_bytecode(python: str, directory: Path, *, runtime_path: str) -> None:
    """Compile every module under ``directory`` into ``__pycache__/*.cpython-313.pyc`` with ``python``.

    The ``.pyc`` are unchecked-hash ones: Lambda never compares them with their sources (which it
    could not rewrite anyway), and they hold no modification time. Their file names are
    ``runtime_path`` (where ``directory`` lands in Lambda) rather than the build directory, and the
    hash seed is fixed, so the same sources always give the same bytes.

    Raises
    ------
    CompileError
        A module does not compile with CPython 3.13; the message carries compileall's output.
    FileNotFoundError
        ``directory`` does not exist (compileall would only say so and succeed).
    """
    if not directory.is_dir():
        raise FileNotFoundError(f"nothing to compile: {directory} is not a directory")
    # PYTHONPYCACHEPREFIX would divert the .pyc out of the tree and PYTHONOPTIMIZE rename them.
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTHON")}
    done = subprocess.run(
        [
            python,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            "-d",
            runtime_path,
            str(directory),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**env, "PYTHONHASHSEED": "0"},
    )
    if done.returncode != 0:
        raise CompileError(
            f"{python} -m compileall could not compile {directory} (exit {done.returncode}):\n"
            f"{done.stdout.strip() or done.stderr.strip()}"
        )


def pip_command(requirements: Sequence[str], target: Path) -> list[str]:
    """The pip invocation that installs ``requirements`` for Lambda's arm64 Python 3.13 into ``target``."""
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--platform",
        PLATFORM,
        "--only-binary=:all:",
        "--python-version",
        PYTHON_VERSION,
        "--implementation",
        IMPLEMENTATION,
        "--target",
        str(target),
        *requirements,
    ]


def digest(requirements: Sequence[str], *, bytecode: str) -> str:
    """The cache key: the pins and every option that changes what gets built.

    ``bytecode`` is :func:`bytecode_version`'s answer: the compiler's exact version, or ``none``.
    """
    key = json.dumps(
        {
            "requirements": sorted(requirements),
            "bytecode": bytecode,
            "platform": PLATFORM,
            "python": PYTHON_VERSION,
            "implementation": IMPLEMENTATION,
            "runtime_provided": sorted(RUNTIME_PROVIDED),
            "build": BUILD_VERSION,
        },
        sort_keys=True,
    )
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _distributions(site: Path) -> dict[str, tuple[str, Path]]:
    found = {}
    for info in site.glob("*.dist-info"):
        metadata = email.parser.Parser().parsestr((info / "METADATA").read_text(encoding="utf-8"), headersonly=True)
        found[normalize(metadata["Name"])] = (metadata["Version"], info)
    return found


def _uninstall(site: Path, info: Path) -> None:
    with (info / "RECORD").open(newline="", encoding="utf-8") as record:
        for row in csv.reader(record):
            path = (site / row[0]).resolve() if row else site
            if path.is_relative_to(site.resolve()) and path.is_file():
                path.unlink()
    shutil.rmtree(info, ignore_errors=True)


def prune(site: Path) -> list[str]:
    """Drop what the runtime provides and what Lambda never reads; return the pins that remain.

    Every ``.pyc`` goes too: what a wheel ships, or any interpreter wrote, is not for Lambda's. The
    build compiles the 3.13 ones after pruning.
    """
    for name, (_version, info) in _distributions(site).items():
        if name in RUNTIME_PROVIDED:
            _uninstall(site, info)
    shutil.rmtree(site / "bin", ignore_errors=True)
    for directory in sorted(site.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if directory.is_dir() and (directory.name in {"__pycache__", "tests", "test"} or not any(directory.iterdir())):
            shutil.rmtree(directory, ignore_errors=True)
    for compiled in site.rglob("*.py[co]"):
        compiled.unlink()
    return sorted(f"{name}=={version}" for name, (version, _info) in _distributions(site).items())


def build(requirements: Sequence[str], cache: Path, *, python: str | None = None) -> Path:
    """Build the layer into ``cache/layer-<digest>`` unless it is there already; return that directory.

    The layer's content is the directory's ``python/``; ``installed.txt`` beside it lists the
    resolved pins. With ``python`` (a CPython 3.13, :func:`find_bytecode_python`) every module is
    compiled, and the digest names its version. A build is staged in a temporary directory and
    renamed into place, so an interrupted one never leaves a half-filled cache behind.

    Raises
    ------
    LayerBuildError
        pip failed (no network, no wheel for the platform); the message carries pip's output.
    CompileError
        A module does not compile with ``python``.
    """
    target = cache / f"layer-{digest(requirements, bytecode=bytecode_version(python))}"
    if target.is_dir():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{target.name}.", suffix=".tmp", dir=cache))
    try:
        print(f"registrar: building the dependencies layer into {target} (first synth only)", file=sys.stderr)
        done = subprocess.run(
            pip_command(requirements, staging / "python"),
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PIP_NO_INPUT": "1"},
        )
        if done.returncode != 0:
            raise LayerBuildError(
                f"pip could not build the dependencies layer (exit {done.returncode}); it needs PyPI:\n"
                f"{done.stderr.strip() or done.stdout.strip()}"
            )
        installed = prune(staging / "python")
        if python is not None:
            compile_bytecode(python, staging / "python", runtime_path=LAYER_RUNTIME_PATH)
        (staging / "installed.txt").write_text("\n".join(installed) + "\n", encoding="utf-8")
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():  # another synth finished the same build first: keep its copy
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


@jsii.implements(cdk.ILocalBundling)
class PipLayerBundler:
    """CDK local bundling for the dependencies layer: copies the cached build into the asset.

    Parameters
    ----------
    requirements
        Pinned requirements, as :func:`layer_requirements` returns them.
    cache
        The directory builds are cached in (``.build`` at the project root).
    python
        The CPython 3.13 to compile the layer with (:func:`find_bytecode_python`), or None to ship
        it without bytecode.
    """

    def __init__(self, *, requirements: Sequence[str], cache: Path, python: str | None) -> None:
        self.requirements = list(requirements)
        self.cache = cache
        self.python = python

    @property
    def asset_hash(self) -> str:
        """The layer's cache key, which is also its asset hash."""
        return digest(self.requirements, bytecode=bytecode_version(self.python))

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_options: Any) -> bool:
        built = build(self.requirements, self.cache, python=self.python)
        shutil.copytree(built / "python", Path(output_dir) / "python", dirs_exist_ok=True)
        return True
