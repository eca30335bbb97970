"""The development commands of ``registrar``: ``emulator`` and ``demo`` (the CLI imports this module on demand)."""

from __future__ import annotations

import argparse
import importlib.util

# What the development extra brings that these commands import: the emulator is moto, the demo prints with rich.
REQUIREMENTS = ("moto", "rich")


def missing_requirements() -> list[str]:
    """The modules of the development extra that are not installed (empty when the commands can run)."""
    return [name for name in REQUIREMENTS if importlib.util.find_spec(name) is None]


def run(args: argparse.Namespace) -> int:
    """Run ``registrar emulator`` or ``registrar demo`` with the parsed arguments; returns the exit status."""
    if args.command == "emulator":
        from registrar_dev.emulator import serve

        return serve(args.host, args.port)
    from registrar_dev.demo import run_demo

    return run_demo(keep=args.keep)
