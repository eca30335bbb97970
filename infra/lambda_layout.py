"""What a deployed function runs, laid out on this machine: the function code and the layer, built as synth builds them.

Synth builds the layer for Lambda (arm64, CPython 3.13). To run that very content here, the layer
is built the same way from the same lock file, with the same pruning of botocore's data, for this
machine's platform and Python instead (:func:`infra.layer.host_platform`); the function code is
``functions/`` staged as the asset is. A process started with :meth:`LambdaLayout.command` imports
nothing else: ``python -S`` leaves site-packages out, so the development environment's packages
(moto, the CDK, a newer botocore) cannot stand in for what the layer lacks.

The tests run a handler end to end this way (tests/integration/test_lambda_layout.py), and the
cold-start benchmark measures registrar this way (bench/cold_start.py).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from infra import function_code, layer

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CACHE = PROJECT_ROOT / ".build"


@dataclass(frozen=True)
class LambdaLayout:
    """The staged function code and the layer's ``python/`` directory, on this machine.

    Attributes
    ----------
    function
        The function code, as the asset stages it (sources; this machine's Python compiles them).
    layer
        The layer's site directory (Lambda's ``/opt/python``).
    """

    function: Path
    layer: Path

    def python_path(self) -> str:
        """``PYTHONPATH`` for a process that sees what Lambda's does: the function code first, then the layer."""
        return os.pathsep.join((str(self.function), str(self.layer)))

    def environment(self, variables: Mapping[str, str]) -> dict[str, str]:
        """A process environment of ``variables``, this layout on the path, and no bytecode written into it.

        Nothing of this process's own environment is inherited but ``PATH`` and the locale.
        """
        kept = {name: value for name, value in os.environ.items() if name in ("PATH", "LANG", "LC_ALL", "TMPDIR")}
        return {**kept, **variables, "PYTHONPATH": self.python_path(), "PYTHONDONTWRITEBYTECODE": "1"}

    def command(self, code: str, *args: str) -> list[str]:
        """This interpreter running ``code`` without site-packages (``-S``): the layout and the standard library."""
        return [sys.executable, "-S", "-c", code, *args]


def build_layout(
    root: Path = PROJECT_ROOT,
    cache: Path = CACHE,
    *,
    bytecode: bool = False,
    services: frozenset[str] | None = layer.KEPT_SERVICES,
) -> LambdaLayout:
    """Build (or reuse from ``cache``) the layer for this machine and stage the function code (see the module).

    Parameters
    ----------
    bytecode
        Compile both with this interpreter, as synth compiles them with Lambda's: a benchmark measures
        a cold start with the bytecode a deployed function has.
    services
        The services the layer's botocore keeps (synth's by default; ``None`` keeps all).

    Raises
    ------
    infra.layer.LayerBuildError
        pip could not install the lock file for this platform (it needs PyPI on a cold cache).
    """
    python = sys.executable if bytecode else None
    built = layer.build(root / layer.LOCK_FILE, cache, python=python, platform=layer.host_platform(), services=services)
    functions = root / "functions"
    staged = cache / f"functions-{function_code.digest(functions, bytecode=layer.bytecode_version(python))}"
    if not staged.is_dir():
        staging = Path(tempfile.mkdtemp(prefix=f"{staged.name}.", suffix=".tmp", dir=cache))
        try:
            function_code.stage(functions, staging, python=python, runtime_path=str(staged))
            try:
                staging.rename(staged)
            except OSError:
                if not staged.is_dir():  # another run staged the same sources first: keep its copy
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return LambdaLayout(function=staged, layer=built / "python")
