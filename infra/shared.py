"""What every function shares: the function code, the dependencies layer and the state table."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import layer
from infra.names import TABLE_PARTITION_KEY, TABLE_TTL_ATTRIBUTE

# The function asset is functions/ alone, less caches and what only a laptop runs: the emulator, the
# local topology, the CLI and the demo (no handler imports them; a test imports the handlers from the asset).
FUNCTION_EXCLUDES = (
    "**/__pycache__",
    "**/*.pyc",
    "*.egg-info",
    "registrar/emulator",
    "registrar/local",
    "registrar/cli.py",
    "registrar/demo.py",
    "registrar/demo_output.py",
)
# Required by CDK's bundling API; never pulled, because the local bundler always succeeds or raises.
BUNDLING_IMAGE = "public.ecr.aws/sam/build-python3.13"


class SharedResources(Construct):
    """The function code asset, the dependencies layer and the idempotency/watermark table.

    The layer ships CPython 3.13 bytecode when :func:`infra.layer.find_bytecode_python` finds an
    interpreter to compile it with; without one it ships sources only, and synth says so. The function
    code ships sources only: its bytecode would take the zipped asset from ~110 KiB to ~300 KiB (over the
    256 KiB budget of docs/performance.md) to save ~50 ms of a cold start, against the layer's ~240 ms.

    Parameters
    ----------
    scope, construct_id
        Where the construct sits in the tree.
    root
        The project root: ``functions/`` is the code, ``pyproject.toml`` the layer's pins, ``.build/``
        the layer cache.

    Attributes
    ----------
    code
        The ``functions/`` asset every function runs.
    layer
        Runtime dependencies (Powertools with Tracer, pydantic, PyYAML) for arm64 Python 3.13.
    table
        Powertools Idempotency records (keyed ``id``, expiring on ``expiration``) and the
        sweeper's watermark.
    """

    def __init__(self, scope: Construct, construct_id: str, *, root: Path) -> None:
        super().__init__(scope, construct_id)
        self.code = lambda_.Code.from_asset(str(root / "functions"), exclude=list(FUNCTION_EXCLUDES))
        python = layer.bytecode_python()

        requirements = layer.layer_requirements(root / "pyproject.toml")
        cache = root / ".build"
        # Bundling needs a source directory to mount; local bundling reads the pins instead, so the cache will do.
        cache.mkdir(exist_ok=True)
        bundler = layer.PipLayerBundler(requirements=requirements, cache=cache, python=python)
        self.layer = lambda_.LayerVersion(
            self,
            "Dependencies",
            description="registrar runtime dependencies: " + ", ".join(requirements),
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_13],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            code=lambda_.Code.from_asset(
                str(cache),
                asset_hash=bundler.asset_hash,
                asset_hash_type=cdk.AssetHashType.CUSTOM,
                bundling=cdk.BundlingOptions(image=cdk.DockerImage.from_registry(BUNDLING_IMAGE), local=bundler),
            ),
        )

        self.table = dynamodb.Table(
            self,
            "State",
            partition_key=dynamodb.Attribute(name=TABLE_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            time_to_live_attribute=TABLE_TTL_ATTRIBUTE,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # Idempotency records expire within hours and a lost watermark costs one longer sweep.
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
