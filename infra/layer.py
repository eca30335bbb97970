"""The dependencies layer, built without Docker: pip installs the lock file's wheels for Lambda's arm64 CPython 3.13.

CDK asks :class:`PipLayerBundler` to bundle the layer asset. The build runs pip in its own process
(so it needs PyPI, not Docker) and is cached under ``.build/layer-<digest>``, where the digest
covers the lock file and every build option: a second synth, or the test suite's, copies the cache.

What the layer holds is ``requirements/runtime.txt``: the runtime dependencies of ``pyproject.toml``
and all of theirs, each at the version and with the hashes the tests installed. The SDK is among
them: boto3 and botocore ship in the layer rather than being left to the Lambda runtime's own copy,
which changes when AWS updates the runtime and which no test ever ran with registrar
(docs/decisions.md, "Lambda runs the SDK the tests run").

botocore's ``data/`` directory is pruned to what registrar's functions call
(:data:`registrar.aws.OPERATIONS`): every other service's model is deleted, the kept models hold
those operations alone (and every shape they reach), ``endpoints.json`` keeps those services' entries
alone, and what botocore ships gzipped is stored plain. botocore reads what is left as it reads its
full copy: nothing of botocore is overridden at run time. docs/performance.md measures what each step
saves; the tests hold the list to the code and compare the requests built with botocore's whole data.

Lambda's file system is read-only, so a module shipped without its ``.pyc`` is compiled again on
every cold start. When a CPython 3.13 is at hand (:func:`find_bytecode_python`), the layer is
compiled with it (:func:`compile_bytecode`), and so is the function code (``infra/function_code.py``).
"""

from __future__ import annotations

import email.parser
import functools
import gzip
import hashlib
import json
import os
import platform as platform_module
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from registrar.aws import OPERATIONS, SERVICES
from registrar.errors import ConfigurationError

PLATFORM: Final = "manylinux2014_aarch64"
PYTHON_VERSION: Final = "3.13"
IMPLEMENTATION: Final = "cp"
# Bump when the build or the pruning below changes, so every cached layer is rebuilt.
BUILD_VERSION: Final = "5"
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

# The lock file the layer is built from: pyproject's runtime dependencies, all of theirs, pinned with hashes.
LOCK_FILE: Final = Path("requirements") / "runtime.txt"
# Every service registrar's functions create a client of (registrar.aws.SERVICES), and the one the X-Ray SDK's
# centralised sampling creates itself when tracing is on: botocore's data keeps these alone.
KEPT_SERVICES: Final = frozenset({*SERVICES, "xray"})
# Files of a service's data directory no client reads: the API's examples, for documentation.
UNREAD_DATA: Final = ("examples-1.json",)
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


@dataclass(frozen=True)
class Platform:
    """What pip installs wheels for: a platform tag and a Python version."""

    tag: str
    python: str


# Lambda's: the functions run python3.13 on arm64.
LAMBDA: Final = Platform(PLATFORM, PYTHON_VERSION)


def host_platform() -> Platform:
    """This machine's platform and Python, to build the layer's content for a test run here."""
    machine = {"arm64": "aarch64", "amd64": "x86_64"}.get(
        platform_module.machine().lower(), platform_module.machine().lower()
    )
    return Platform(f"manylinux2014_{machine}", f"{sys.version_info.major}.{sys.version_info.minor}")


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


def lock_pins(lock: Path) -> list[str]:
    """The ``name==version`` pins of a lock file, sorted (for the layer's description and cache key).

    Raises
    ------
    ValueError
        The lock file names a requirement without an exact ``==`` version.
    """
    pins: list[str] = []
    for line in lock.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith(("#", " ", "\t", "-")):
            continue
        match = _PIN.match(line)
        if match is None:
            raise ValueError(f"{lock}: {line.strip()!r} is not pinned with ==")
        pins.append(f"{normalize(match.group(1))}=={match.group(2)}")
    return sorted(pins)


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
    """The exact version of the interpreter compiling the bytecode (``3.13.0``), or ``none`` without one.

    This very interpreter (``sys.executable``) compiles a layout for a run on this machine
    (:mod:`infra.lambda_layout`): its version is ``host-`` and its own, whatever it is.
    """
    if python is None:
        return "none"
    if python == sys.executable:
        return f"host-{platform_module.python_version()}"
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


def pip_command(lock: Path, target: Path, platform: Platform = LAMBDA) -> list[str]:
    """The pip invocation that installs the lock file's wheels for ``platform`` into ``target``.

    ``--no-deps`` and ``--require-hashes``: the lock file already lists every distribution, each with
    the hashes of its files, so nothing is resolved again and nothing else can be installed.
    """
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--no-deps",
        "--require-hashes",
        "--platform",
        platform.tag,
        "--only-binary=:all:",
        "--python-version",
        platform.python,
        "--implementation",
        IMPLEMENTATION,
        "--target",
        str(target),
        "-r",
        str(lock),
    ]


def digest(
    lock_text: str, *, bytecode: str, platform: Platform = LAMBDA, services: frozenset[str] | None = KEPT_SERVICES
) -> str:
    """The cache key: the lock file's text and every option that changes what gets built.

    ``bytecode`` is :func:`bytecode_version`'s answer: the compiler's exact version, or ``none``.
    """
    key = json.dumps(
        {
            "lock": lock_text,
            "bytecode": bytecode,
            "platform": platform.tag,
            "python": platform.python,
            "implementation": IMPLEMENTATION,
            "services": sorted(services) if services is not None else "all",
            "operations": OPERATIONS if services is not None else "all",
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


def prune(site: Path, services: frozenset[str] | None = KEPT_SERVICES) -> list[str]:
    """Drop what Lambda never reads, prune botocore's data to ``services`` (``None``: keep all); return the pins.

    Every ``.pyc`` goes too: what a wheel ships, or any interpreter wrote, is not for Lambda's. The
    build compiles the 3.13 ones after pruning.
    """
    shutil.rmtree(site / "bin", ignore_errors=True)
    for directory in sorted(site.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if directory.is_dir() and (directory.name in {"__pycache__", "tests", "test"} or not any(directory.iterdir())):
            shutil.rmtree(directory, ignore_errors=True)
    for compiled in site.rglob("*.py[co]"):
        compiled.unlink()
    if services is not None and (site / "botocore" / "data").is_dir():
        prune_botocore_data(site / "botocore" / "data", services)
    return sorted(f"{name}=={version}" for name, (version, _info) in _distributions(site).items())


def prune_botocore_data(data: Path, services: frozenset[str]) -> None:
    """Keep the models of ``services`` alone in botocore's ``data/`` directory, and their endpoints, inflated.

    botocore finds a service by listing this directory and reads ``endpoints.json`` whole on the first
    client: with only the services a function calls, both are short. A client of a service not kept
    fails with botocore's own ``UnknownServiceError``.

    Raises
    ------
    ValueError
        A service in ``services`` has no directory here (a misspelt name would otherwise prune it away).
    """
    present = {path.name for path in data.iterdir() if path.is_dir()}
    unknown = sorted(services - present)
    if unknown:
        raise ValueError(f"botocore has no data for {', '.join(unknown)}: not a botocore service name")
    for name in sorted(present - services):
        shutil.rmtree(data / name)
    for unread in UNREAD_DATA:
        for path in data.rglob(unread):
            path.unlink()
    # botocore reads a plain .json before a .json.gz: inflating saves the decompression on every cold start
    # (about 15 % of a model's load), and the zipped layer is the same size.
    for compressed in data.rglob("*.json.gz"):
        compressed.with_suffix("").write_bytes(gzip.decompress(compressed.read_bytes()))
        compressed.unlink()
    for service, operations in OPERATIONS.items():
        if service in services:
            model_path = latest_model(data / service)
            model = json.loads(model_path.read_text(encoding="utf-8"))
            model_path.write_text(json.dumps(trim_model(model, operations), separators=(",", ":")), encoding="utf-8")
    endpoints = data / "endpoints.json"
    document = json.loads(endpoints.read_text(encoding="utf-8"))
    for partition in document.get("partitions", []):
        partition["services"] = {
            name: value for name, value in partition.get("services", {}).items() if _endpoint_service(name) in services
        }
    endpoints.write_text(json.dumps(document, separators=(",", ":")), encoding="utf-8")


def latest_model(service: Path) -> Path:
    """The ``service-2.json`` botocore loads for a service: the one of its latest API version that has one."""
    return max(service.glob("*/service-2.json"), key=lambda path: path.parent.name)


def trim_model(model: dict[str, Any], operations: Iterable[str]) -> dict[str, Any]:
    """A service model reduced to ``operations`` and every shape they reach, each unchanged, documentation dropped.

    ``metadata`` and ``version`` are kept whole, so the protocol, the signing and the endpoint rule set are
    botocore's own; a client of the trimmed model builds the very requests a client of the whole one does
    (tests/integration/test_lambda_layout.py compares them), and has only these operations.

    Raises
    ------
    KeyError
        An operation is not in the model (a misspelt name, or one botocore no longer has).
    """
    kept = {name: model["operations"][name] for name in sorted(operations)}
    pending = [
        shape
        for operation in kept.values()
        for shape in (
            *(operation[key]["shape"] for key in ("input", "output") if key in operation),
            *(error["shape"] for error in operation.get("errors", [])),
        )
    ]
    shapes: set[str] = set()
    while pending:
        name = pending.pop()
        if name not in shapes:
            shapes.add(name)
            shape = model["shapes"][name]
            pending.extend(shape[key]["shape"] for key in ("member", "key", "value") if key in shape)
            pending.extend(member["shape"] for member in shape.get("members", {}).values())
    trimmed = {
        "version": model.get("version", "2.0"),
        "metadata": model["metadata"],
        "operations": kept,
        "shapes": {name: model["shapes"][name] for name in sorted(shapes)},
    }
    result: dict[str, Any] = _undocumented(trimmed)
    return result


def _undocumented(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _undocumented(item) for key, item in value.items() if key != "documentation"}
    if isinstance(value, list):
        return [_undocumented(item) for item in value]
    return value


def _endpoint_service(endpoint_prefix: str) -> str:
    # endpoints.json names services by endpoint prefix; a few differ from botocore's service name.
    # SES v2's endpoint prefix is SES v1's, "email": registrar calls v2 alone (registrar.mail).
    return {"streams.dynamodb": "dynamodbstreams", "runtime.sagemaker": "sagemaker-runtime", "email": "sesv2"}.get(
        endpoint_prefix, endpoint_prefix
    )


def build(
    lock: Path,
    cache: Path,
    *,
    python: str | None = None,
    platform: Platform = LAMBDA,
    services: frozenset[str] | None = KEPT_SERVICES,
) -> Path:
    """Build the layer into ``cache/layer-<digest>`` unless it is there already; return that directory.

    The layer's content is the directory's ``python/``; ``installed.txt`` beside it lists the
    installed pins. With ``python`` (a CPython 3.13, :func:`find_bytecode_python`) every module is
    compiled, and the digest names its version. A build is staged in a temporary directory and
    renamed into place, so an interrupted one never leaves a half-filled cache behind.

    Parameters
    ----------
    lock
        The lock file (:data:`LOCK_FILE` under the project root).
    cache
        The directory builds are cached in.
    python
        The CPython 3.13 to compile with, or None to ship sources.
    platform
        What to install wheels for: Lambda's by default; :func:`host_platform` for a run on this machine.
    services
        The services botocore's data keeps; ``None`` keeps every one (for the benchmark that measures
        what the pruning saves).

    Raises
    ------
    LayerBuildError
        pip failed (no network, no wheel for the platform); the message carries pip's output.
    CompileError
        A module does not compile with ``python``.
    """
    key = digest(
        lock.read_text(encoding="utf-8"), bytecode=bytecode_version(python), platform=platform, services=services
    )
    target = cache / f"layer-{key}"
    if target.is_dir():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{target.name}.", suffix=".tmp", dir=cache))
    try:
        print(f"registrar: building the dependencies layer into {target} (first synth only)", file=sys.stderr)
        done = subprocess.run(
            pip_command(lock, staging / "python", platform),
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
        installed = prune(staging / "python", services)
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
