"""The dependencies layer, built without Docker: pip fetches manylinux aarch64 wheels for CPython 3.13.

CDK asks :class:`PipLayerBundler` to bundle the layer asset. The build runs pip in its own process
(so it needs PyPI, not Docker) and is cached under ``.build/layer-<digest>``, where the digest
covers the pins and every build option: a second synth, or the test suite's, copies the cache.
"""

from __future__ import annotations

import csv
import email.parser
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

PLATFORM: Final = "manylinux2014_aarch64"
PYTHON_VERSION: Final = "3.13"
IMPLEMENTATION: Final = "cp"
# Bump when the build or the pruning below changes, so every cached layer is rebuilt.
BUILD_VERSION: Final = "1"

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


def digest(requirements: Sequence[str]) -> str:
    """The cache key: the pins and every option that changes what gets built."""
    key = json.dumps(
        {
            "requirements": sorted(requirements),
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
    """Drop what the runtime provides and what Lambda never reads; return the pins that remain."""
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


def build(requirements: Sequence[str], cache: Path) -> Path:
    """Build the layer into ``cache/layer-<digest>`` unless it is there already; return that directory.

    The layer's content is the directory's ``python/``; ``installed.txt`` beside it lists the
    resolved pins. A build is staged in a temporary directory and renamed into place, so an
    interrupted one never leaves a half-filled cache behind.

    Raises
    ------
    LayerBuildError
        pip failed (no network, no wheel for the platform); the message carries pip's output.
    """
    target = cache / f"layer-{digest(requirements)}"
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
    """

    def __init__(self, *, requirements: Sequence[str], cache: Path) -> None:
        self.requirements = list(requirements)
        self.cache = cache

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_options: Any) -> bool:
        built = build(self.requirements, self.cache)
        shutil.copytree(built / "python", Path(output_dir) / "python", dirs_exist_ok=True)
        return True
