"""Names of things, in one place: construct ids, handlers, environment variables, metrics.

Physical names are left to CloudFormation; functions learn them from environment variables whose
names are derived from :class:`registrar.settings.Settings`, so a renamed setting breaks synth,
not a deployed function.
"""

from __future__ import annotations

from typing import Final

from registrar.settings import PREFIX, Settings

STACK: Final = "Registrar"
# With several accounts (cdk.json's accounts): one forwarder stack per workload account, RegistrarForwarder-<name>.
FORWARDER_STACK: Final = "RegistrarForwarder"
FORWARDER_STACK_DESCRIPTION: Final = (
    "registrar forwarder: sends this workload account's SageMaker evaluation and Neo compilation events to the "
    "registry account's registrar, and lets it read their evidence"
)
STACK_DESCRIPTION: Final = (
    "registrar: EventBridge rules, SQS queues and Lambda functions that keep the SageMaker Model Registry up to date"
)
CONTEXT_KEY: Final = "registrar"

# Powertools: the service dimension and namespace every registrar metric carries.
SERVICE: Final = "registrar"
METRICS_NAMESPACE: Final = "registrar"

# Lambda handlers, by module path inside the functions/ asset.
APPROVAL_HANDLER: Final = "handlers.approval.handler"
NEO_REGISTRATION_HANDLER: Final = "handlers.neo_registration.handler"
SWEEPER_HANDLER: Final = "handlers.sweeper.handler"
DEPLOYMENT_HANDLER: Final = "handlers.deployment.handler"
DECISION_PAGE_HANDLER: Final = "handlers.decision_page.handler"
APPROVER_MAIL_HANDLER: Final = "handlers.approver_mail.handler"

# With several accounts, the roles that assume the evidence role in the workload accounts have physical names: the
# workload's role trusts them by ARN, and CloudFormation cannot pass a generated name from one account to another.
# IAM names are global to an account, so the region is part of the name (one registry per account and region).
APPROVAL_ROLE_NAME: Final = "registrar-approval-{region}"
NEO_REGISTRATION_ROLE_NAME: Final = "registrar-neo-registration-{region}"


def role_name(template: str, region: str) -> str:
    """A physical role name from one of this module's templates, for one region."""
    return template.format(region=region)


def forwarder_stack(workload: str) -> str:
    """The id (and CloudFormation name) of a workload account's forwarder stack."""
    return f"{FORWARDER_STACK}-{workload}"


# Business and operational metrics the functions emit (registrar.observability).
DECISION_METRICS: Final = ("PackageApproved", "PackageRejected", "PackageHeld")
NEO_METRICS: Final = ("SpecAttached", "SpecOverCap", "NeoRecorded")
SKIP_METRICS: Final = ("EventSkipped", "EventUnchanged", "EventInvalid", "EventDuplicate", "EventDeferred")
FAILURE_METRIC: Final = "EventFailed"
SWEEP_METRIC: Final = "SweepCompleted"

# Idempotency records (Powertools' DynamoDBPersistenceLayer defaults) and the sweeper's watermark share a table.
TABLE_PARTITION_KEY: Final = "id"
TABLE_TTL_ATTRIBUTE: Final = "expiration"


def setting(field: str) -> str:
    """The environment variable a :class:`~registrar.settings.Settings` field is read from.

    Raises
    ------
    KeyError
        When ``field`` is not a settings field, so a typo fails at synth instead of in Lambda.
    """
    if field not in Settings.model_fields:
        raise KeyError(f"{field!r} is not a registrar setting; known: {', '.join(sorted(Settings.model_fields))}")
    return f"{PREFIX}{field.upper()}"


ENV_POLICY_PARAMETER: Final = setting("policy_parameter")
ENV_TABLE_NAME: Final = setting("table_name")
ENV_EVENT_BUS_NAME: Final = setting("event_bus_name")
ENV_REPORT_LOCATIONS: Final = setting("report_locations")
ENV_NEO_OUTPUT_LOCATIONS: Final = setting("neo_output_locations")
ENV_MANAGED_GROUPS: Final = setting("managed_groups")
ENV_SWEEP_LOOKBACK_MINUTES: Final = setting("sweep_lookback_minutes")

ENV_SIGNING_SECRET: Final = setting("signing_secret")

# Several accounts: the registry account (always the stack's own), the workloads' locations and the evidence role.
ENV_REGISTRY_ACCOUNT: Final = setting("registry_account")
ENV_WORKLOAD_ACCOUNTS: Final = setting("workload_accounts")
ENV_EVIDENCE_ROLE: Final = setting("evidence_role")
# The approver e-mails' own variables: not Settings fields, the mail function parses them itself
# (registrar.decisions.approver_mail.ApproverMailSettings).
ENV_APPROVERS: Final = f"{PREFIX}APPROVERS"
ENV_MAIL_FROM: Final = f"{PREFIX}MAIL_FROM"
ENV_DECISION_PAGE_URL: Final = f"{PREFIX}DECISION_PAGE_URL"
ENV_LINK_TTL_DAYS: Final = f"{PREFIX}LINK_TTL_DAYS"
