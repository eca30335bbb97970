"""The development commands of ``registrar``: ``emulator`` and ``demo`` (the CLI imports this module on demand)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    """Run ``registrar emulator`` or ``registrar demo`` with the parsed arguments; returns the exit status."""
    if args.command == "emulator":
        from registrar_dev.emulator import serve

        return serve(args.host, args.port)
    from registrar_dev.demo import run_demo

    return run_demo(keep=args.keep)
