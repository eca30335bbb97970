"""What every function shares: the function code, the dependencies layer and the state table."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import function_code, layer
from infra.names import TABLE_PARTITION_KEY, TABLE_TTL_ATTRIBUTE

# Required by CDK's bundling API; never pulled, because the local bundler always succeeds or raises.
BUNDLING_IMAGE = "public.ecr.aws/sam/build-python3.13"


class SharedResources(Construct):
    """The function code asset, the dependencies layer and the idempotency/watermark table.

    Both the layer and the function code ship CPython 3.13 bytecode when
    :func:`infra.layer.find_bytecode_python` finds an interpreter to compile them with; without one
    they ship sources only, and synth says so.

    Parameters
    ----------
    scope, construct_id
        Where the construct sits in the tree.
    root
        The project root: ``functions/`` is the code, ``requirements/runtime.txt`` the layer's lock file,
        ``.build/`` the layer cache.

    Attributes
    ----------
    code
        The ``functions/`` asset every function runs (:mod:`infra.function_code`).
    layer
        Runtime dependencies (the SDK, Powertools with Tracer, pydantic, PyYAML) for arm64 Python 3.13.
    table
        Powertools Idempotency records (keyed ``id``, expiring on ``expiration``) and the
        sweeper's watermark.
    """

    def __init__(self, scope: Construct, construct_id: str, *, root: Path) -> None:
        super().__init__(scope, construct_id)
        python = layer.bytecode_python()
        code = FunctionCodeBundler(functions=root / "functions", python=python)
        self.code = lambda_.Code.from_asset(
            str(root / "functions"),
            asset_hash=code.asset_hash,
            asset_hash_type=cdk.AssetHashType.CUSTOM,
            bundling=cdk.BundlingOptions(image=cdk.DockerImage.from_registry(BUNDLING_IMAGE), local=code),
        )

        lock = root / layer.LOCK_FILE
        cache = root / ".build"
        # Bundling needs a source directory to mount; local bundling reads the lock file instead, so the cache will do.
        cache.mkdir(exist_ok=True)
        bundler = PipLayerBundler(lock=lock, cache=cache, python=python)
        self.layer = lambda_.LayerVersion(
            self,
            "Dependencies",
            description=_layer_description(layer.lock_pins(lock)),
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


def _layer_description(pins: list[str]) -> str:
    """The layer's description: its pins, within Lambda's 256 characters (the SDK and the frameworks first)."""
    first = [pin for pin in pins if pin.split("==")[0] in {"boto3", "botocore", "aws-lambda-powertools", "pydantic"}]
    text = "registrar runtime dependencies (requirements/runtime.txt): " + ", ".join(first)
    return text if len(text) <= 256 else text[:253] + "..."


@jsii.implements(cdk.ILocalBundling)
class PipLayerBundler:
    """CDK local bundling for the dependencies layer: copies the cached build into the asset.

    Parameters
    ----------
    lock
        The lock file the layer is built from (:data:`infra.layer.LOCK_FILE`).
    cache
        The directory builds are cached in (``.build`` at the project root).
    python
        The CPython 3.13 to compile the layer with (:func:`infra.layer.find_bytecode_python`), or None to ship
        it without bytecode.
    """

    def __init__(self, *, lock: Path, cache: Path, python: str | None) -> None:
        self.lock = lock
        self.cache = cache
        self.python = python

    @property
    def asset_hash(self) -> str:
        """The layer's cache key, which is also its asset hash."""
        return layer.digest(self.lock.read_text(encoding="utf-8"), bytecode=layer.bytecode_version(self.python))

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_options: Any) -> bool:
        built = layer.build(self.lock, self.cache, python=self.python)
        shutil.copytree(built / "python", Path(output_dir) / "python", dirs_exist_ok=True)
        return True


@jsii.implements(cdk.ILocalBundling)
class FunctionCodeBundler:
    """CDK local bundling for the function code: :func:`infra.function_code.stage` into the asset directory.

    Parameters
    ----------
    functions
        The ``functions/`` directory.
    python
        The CPython 3.13 to compile with (:func:`infra.layer.find_bytecode_python`), or None.
    """

    def __init__(self, *, functions: Path, python: str | None) -> None:
        self.functions = functions
        self.python = python

    @property
    def asset_hash(self) -> str:
        """The sources' and the compiler's digest, which is the asset hash."""
        return function_code.digest(self.functions, bytecode=layer.bytecode_version(self.python))

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_options: Any) -> bool:
        function_code.stage(self.functions, Path(output_dir), python=self.python)
        return True
