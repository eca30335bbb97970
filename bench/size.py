"""Deployment size, read from ``cdk.out``: the layer and the function code unzipped, against Lambda's 50 MB.

``cdk synth`` runs first (offline; the layer comes from the ``.build`` cache, or pip on a first
synth), then the stack's template says which asset each ``AWS::Lambda::Function`` and
``AWS::Lambda::LayerVersion`` uses and the asset manifest where it was staged. The function asset is
zipped in memory (deflate, level 9, as CDK zips assets), for information; the budget is the layer
and the function code together, unzipped, within 50 MB. The largest contributors of each are listed.

Run alone with ``python -m bench.size [--no-synth]``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pathlib
import subprocess
import sys
import zipfile
from collections import Counter
from dataclasses import dataclass

from bench.common import ROOT, Figure, exit_status, report

CDK_OUT = ROOT / "cdk.out"
# The layer and the function code together, unzipped (the 256 KiB budget of the zipped function asset is
# retired: it made the function code ship without its bytecode, docs/decisions.md).
BUDGET_MB = 50
TOP = 8


@dataclass(frozen=True)
class Assets:
    """The staged directories of the stack's function code and layer assets."""

    functions: tuple[pathlib.Path, ...]
    layers: tuple[pathlib.Path, ...]


def synth() -> None:
    """``cdk synth --quiet`` (cdk-nag included), with the virtualenv's Python first on PATH.

    Raises
    ------
    RuntimeError
        The synth failed; the message carries its output.
    """
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [str(ROOT / "node_modules" / ".bin" / "cdk"), "synth", "--quiet"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cdk synth failed (exit {done.returncode}):\n{done.stderr[-3000:] or done.stdout[-3000:]}")


def assets(cdk_out: pathlib.Path = CDK_OUT) -> Assets:
    """Find the function and layer asset directories of every stack in ``cdk_out``."""
    functions: set[pathlib.Path] = set()
    layers: set[pathlib.Path] = set()
    for manifest in cdk_out.glob("*.assets.json"):
        files = json.loads(manifest.read_text())["files"]
        template = json.loads((cdk_out / manifest.name.replace(".assets.json", ".template.json")).read_text())
        for resource in template.get("Resources", {}).values():
            kind = resource.get("Type")
            if kind == "AWS::Lambda::Function":
                code = resource["Properties"].get("Code", {})
                target = functions
            elif kind == "AWS::Lambda::LayerVersion":
                code = resource["Properties"].get("Content", {})
                target = layers
            else:
                continue
            key = code.get("S3Key")
            if isinstance(key, str) and key.removesuffix(".zip") in files:
                target.add(cdk_out / files[key.removesuffix(".zip")]["source"]["path"])
    if not functions or not layers:
        raise RuntimeError(f"no function or layer asset found in {cdk_out} (run cdk synth)")
    return Assets(functions=tuple(sorted(functions)), layers=tuple(sorted(layers)))


def _files(directory: pathlib.Path) -> list[pathlib.Path]:
    return sorted(path for path in directory.rglob("*") if path.is_file())


def _group(relative: pathlib.Path) -> str:
    parts = relative.parts
    if parts[0] == "python" and len(parts) > 1:  # a layer: python/<package>
        return parts[1]
    if len(parts) > 2:  # registrar/neo/...
        return "/".join(parts[:2])
    return f"{parts[0]}/*.py" if len(parts) == 2 else parts[0]


def zipped(directory: pathlib.Path) -> tuple[int, Counter[str]]:
    """The size of ``directory`` zipped, and each top-level group's compressed bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in _files(directory):
            archive.write(path, path.relative_to(directory).as_posix())
    contributors: Counter[str] = Counter()
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        for info in archive.infolist():
            contributors[_group(pathlib.PurePosixPath(info.filename))] += info.compress_size  # type: ignore[arg-type]
    return len(buffer.getvalue()), contributors


def unzipped(directory: pathlib.Path) -> tuple[int, Counter[str]]:
    """The bytes of every file under ``directory``, and each top-level group's share."""
    contributors: Counter[str] = Counter()
    for path in _files(directory):
        contributors[_group(path.relative_to(directory))] += path.stat().st_size
    return sum(contributors.values()), contributors


def _top(contributors: Counter[str], unit: int, suffix: str) -> str:
    return ", ".join(f"{name} {size / unit:.1f} {suffix}" for name, size in contributors.most_common(TOP))


def figures(found: Assets) -> tuple[list[Figure], list[str]]:
    """The largest function asset zipped and the largest layer unzipped, with their top contributors."""
    function_sizes = [zipped(directory) for directory in found.functions]
    layer_sizes = [unzipped(directory) for directory in found.layers]
    function_bytes, function_parts = max(function_sizes, key=lambda sized: sized[0])
    layer_bytes, layer_parts = max(layer_sizes, key=lambda sized: sized[0])
    function_unzipped = max(unzipped(directory)[0] for directory in found.functions)
    result = [
        Figure(
            "layer and function code, unzipped",
            (layer_bytes + function_unzipped) / 1e6,
            "MB",
            BUDGET_MB,
            detail=f"layer {layer_bytes / 1e6:.1f} MB, function code {function_unzipped / 1e6:.2f} MB",
        ),
        Figure(
            "function asset, zipped (information)",
            function_bytes / 1024,
            "KiB",
            detail=f"{len(found.functions)} asset(s), shared by every function, with its bytecode",
        ),
    ]
    notes = [
        f"largest in the function asset (zipped): {_top(function_parts, 1024, 'KiB')}",
        f"largest in the layer (unzipped): {_top(layer_parts, 1_000_000, 'MB')}",
    ]
    return result, notes


def run(*, synthesize: bool = True) -> list[Figure]:
    """Synthesize (unless told not to), measure and print."""
    if synthesize:
        synth()
    result, notes = figures(assets())
    report("deployment size (cdk.out)", result, notes=notes)
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.size``: exit 1 when an asset is over budget."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-synth", action="store_true", help="measure the cdk.out already there")
    args = parser.parse_args(argv)
    return exit_status(run(synthesize=not args.no_synth))


if __name__ == "__main__":
    sys.exit(main())
