"""The function code asset: ``functions/`` whole (the runtime package and the handlers), with Lambda's bytecode.

``functions/`` holds exactly what Lambda runs; everything else a laptop runs lives in ``tools/``
(the operator CLI, the emulator, the demo). So the asset is that directory as it is, with no list of
modules to leave out: only what a development machine writes into it is skipped (the interpreter's
``__pycache__``, an editable install's ``*.egg-info``), and the CPython 3.13 bytecode Lambda reads
is written in its place, as for the layer
(:func:`infra.layer.compile_bytecode`): Lambda's file system is read-only, and a module shipped
without its ``.pyc`` is compiled again on every cold start.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from infra import layer

# Where Lambda puts the function code: the compiled code's file names point there.
FUNCTION_RUNTIME_PATH: Final = "/var/task"
# What a development machine writes beside the sources (the interpreter's caches, an editable install's metadata).
_MACHINE_WRITTEN: Final = ("__pycache__", ".egg-info")


def source_files(functions: Path) -> Iterator[Path]:
    """Every file under ``functions`` but what a development machine wrote there, relative to it, in a stable order."""
    for path in sorted(functions.rglob("*")):
        relative = path.relative_to(functions)
        written = any(part.endswith(_MACHINE_WRITTEN) for part in relative.parts[:-1])
        if path.is_file() and not written and path.suffix not in (".pyc", ".pyo"):
            yield relative


def digest(functions: Path, *, bytecode: str) -> str:
    """The asset hash: every source file's path and bytes, and the exact version of the bytecode compiler."""
    hasher = hashlib.sha256(f"bytecode={bytecode}\n".encode())
    for relative in source_files(functions):
        hasher.update(f"{relative.as_posix()}\n".encode())
        hasher.update((functions / relative).read_bytes())
    return hasher.hexdigest()[:32]


def stage(functions: Path, output: Path, *, python: str | None, runtime_path: str = FUNCTION_RUNTIME_PATH) -> None:
    """Copy ``functions`` into ``output`` (caches left behind) and compile it with ``python``, a CPython 3.13.

    Without ``python`` the asset ships sources only (synth has already said what that costs). The
    compiled code names its files under ``runtime_path``, where the code will run (Lambda's ``/var/task``).

    Raises
    ------
    infra.layer.CompileError
        A module does not compile with CPython 3.13.
    """
    for relative in source_files(functions):
        target = output / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(functions / relative, target)
    if python is not None:
        layer.compile_bytecode(python, output, runtime_path=runtime_path)
