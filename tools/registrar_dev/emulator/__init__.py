"""The embedded AWS emulator: moto 5.2.5 in server mode, on loopback, with SageMaker fidelity fixes.

Everything the project touches locally (SageMaker, Neo, EventBridge, SQS, S3, DynamoDB, SSM) is moto;
this package only installs the behaviour where moto departs from SageMaker
(docs/sagemaker.md#emulator), through moto's own extension points:
backend subclasses that moto instantiates for every account and region, and response-handler
subclasses routed through those backends' URL maps. There is no second registry.

Importing this package is cheap: moto is imported by :func:`start` only.

The fixes, numbered across the package, each in the module that holds it:

- :mod:`registrar_dev.emulator.sagemaker`: UpdateModelPackage (1 partial updates, 2 metadata merge,
  3 additional-specification limits, 4 ModelLifeCycle/ModelCard/SourceUri/InferenceSpecification,
  5 ClientToken, 9 every request checked against the service model's constraints and the documented
  limits, refused as SageMaker refuses it), 6 processing jobs that end at once, instance types from the
  service model.
- :mod:`registrar_dev.emulator.neo`: compilation jobs that look like Neo's.
- :mod:`registrar_dev.emulator.endpoints`: 15 UpdateEndpoint, 16 ``SageMaker Endpoint State Change`` on
  CreateEndpoint and UpdateEndpoint, 17 ``ShadowProductionVariants`` kept.
- :mod:`registrar_dev.emulator.events`: 6 SageMaker's EventBridge events, 7 the ``account`` member,
  8 TestEventPattern, 10 events delivered to targets verbatim (moto substituted its template's
  placeholders inside the event's detail).

Not emulated: the emulator enforces no IAM within an account (any credentials may do anything their account
holds), no queue, topic or bucket policies (kept, not enforced) and no KMS (keys named in encryption settings
are neither required nor used): a deployment's permissions are not tested here. Between accounts it enforces
what fixes 19-22 name: role trust policies, event-bus policies and model package group policies.

- :mod:`registrar_dev.emulator.sqs`: 11 one receive at a time per queue (moto could hand a message over twice).
- :mod:`registrar_dev.emulator.targets`: 12 a target's input (``Input``, ``InputPath``, ``InputTransformer``) as
  EventBridge documents it, 13 SNS topic targets and a record of the e-mails SNS sent
  (``GET /registrar-emulator/sns/sent-emails``), 14 API destinations called (loopback only) with retries and
  dead-letter queues.
- :mod:`registrar_dev.emulator.ses`: 18 what SES v2 SendEmail sent, readable
  (``GET /registrar-emulator/ses/sent-emails``).
- Several accounts (docs/sagemaker.md#accounts-in-the-emulator): :mod:`registrar_dev.emulator.accounts` 19 AssumeRole
  only where the role's trust policy allows (and a role's credentials as Lambda gets them,
  ``POST /registrar-emulator/sts/service-credentials``); :mod:`registrar_dev.emulator.targets` 20 events sent to
  another account's bus keep their envelope and need that bus's policy; :mod:`registrar_dev.emulator.package_groups`
  21 model package group policies, and versions registered from another account; :mod:`registrar_dev.emulator.events`
  22 PutEvents naming another account's bus, entry by entry by that bus's policy. The policy language they share is
  :mod:`registrar_dev.emulator.policies`.

Helpers: :mod:`registrar_dev.emulator.outcome` (the ``emulator:outcome`` tag that makes a job fail or stop),
:mod:`registrar_dev.emulator.clock` (times to the millisecond), :mod:`registrar_dev.emulator.server` (start/serve).
"""

from registrar_dev.emulator.server import (
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
