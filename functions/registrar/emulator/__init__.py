"""The embedded AWS emulator: moto 5.2.5 in server mode, on loopback, with SageMaker fidelity fixes.

Everything the project touches locally (SageMaker, Neo, EventBridge, SQS, S3, DynamoDB, SSM) is moto;
this package only installs the behaviour where moto departs from SageMaker
(``/work/shared/reference/sagemaker-facts.md`` §5), through moto's own extension points:
backend subclasses that moto instantiates for every account and region, and response-handler
subclasses routed through those backends' URL maps. There is no second registry.

Importing this package is cheap: moto is imported by :func:`start` only.

The fixes, each in the module that holds it:

- :mod:`registrar.emulator.sagemaker`: UpdateModelPackage (partial updates, metadata merge,
  additional-specification limits, ModelLifeCycle/ModelCard/SourceUri/InferenceSpecification,
  ClientToken), processing jobs that end at once, instance types from the service model.
- :mod:`registrar.emulator.neo`: compilation jobs that look like Neo's.
- :mod:`registrar.emulator.events`: SageMaker's EventBridge events, and TestEventPattern.

Helpers: :mod:`registrar.emulator.outcome` (the ``emulator:outcome`` tag that makes a job fail or stop),
:mod:`registrar.emulator.clock` (times to the millisecond), :mod:`registrar.emulator.server` (start/serve).
"""

from registrar.emulator.server import (
    ACCOUNT_ID,
    MOTO_VERSION,
    REGION,
    Emulator,
    UnsupportedMotoVersionError,
    serve,
    start,
)

__all__ = [
    "ACCOUNT_ID",
    "MOTO_VERSION",
    "REGION",
    "Emulator",
    "UnsupportedMotoVersionError",
    "serve",
    "start",
]
