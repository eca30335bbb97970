#!/usr/bin/env python3
"""CDK entry point: read the configuration from cdk.json, build the stacks, check them with cdk-nag.

One stack with a single account; with ``accounts`` in the configuration, the registry account's stack and a
forwarder stack per workload account (infra/app.py).

``cdk synth`` runs this with the context and output directory it chose; run as ``python app.py``,
it reads cdk.json's context itself and writes to cdk.out/, so both give the same assembly.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from infra import nag
from infra.app import compose
from registrar.errors import ConfigurationError

ROOT = Path(__file__).resolve().parent


def app_props() -> dict[str, Any]:
    """Context and output directory when the CDK CLI did not provide them."""
    if "CDK_OUTDIR" in os.environ:
        return {}
    settings = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))
    return {"context": settings.get("context", {}), "outdir": str(ROOT / "cdk.out")}


def main() -> int:
    app = cdk.App(**app_props())
    try:
        compose(app)
    except ConfigurationError as error:
        print(f"registrar: {error}", file=sys.stderr)
        return 2
    try:
        app.synth()
    except RuntimeError:
        found = nag.violations(app.outdir)
        if not found:
            raise
        print(
            f"registrar: {len(found)} unacknowledged cdk-nag finding(s); fix them, or acknowledge each with "
            f"infra.nag.acknowledge and a reason:\n{nag.describe(found)}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
