"""The accounts registrar trusts, and the clients that read evidence where it lives.

One **registry account** holds the model package groups registrar manages, and runs registrar.
**Workload accounts** train, evaluate and compile; they forward their events to the registry
account's bus and keep their evidence (processing jobs, compilation jobs, reports) at home, where
registrar reads it through a role it assumes there. Trust crosses an account boundary only where
the deployment names the account (ARCHITECTURE.md, safety rule 8):

- an event of an account that is neither this one nor a listed workload is refused;
- a version is decided or attached only in the registry account;
- an account not listed is never assumed into.

With no workload account listed, registrar is the single-account tool it always was.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from registrar import aws, groups
from registrar.locations import object_within
from registrar.settings import Settings, WorkloadAccount


class UntrustedAccountError(PermissionError):
    """A call was asked of an account the deployment does not list: registrar never assumes into it."""


@dataclass(frozen=True)
class Accounts:
    """Which accounts registrar trusts, and how it reaches each.

    Parameters
    ----------
    registry
        The account whose model package groups registrar manages; ``None`` (a local run without the
        setting) accepts a version in the account of the event or job that names it.
    workloads
        The workload accounts, each with where its evidence lies.
    evidence_role
        The role registrar assumes in a workload account.
    registry_report_locations
        The registry's own report locations (``REGISTRAR_REPORT_LOCATIONS``); empty allows any.
    endpoint_url, region
        Where the clients call (the emulator, the CLI's ``--endpoint-url``); AWS by default.
    """

    registry: str | None = None
    workloads: Mapping[str, WorkloadAccount] = field(default_factory=dict)
    evidence_role: str = "registrar-evidence-reader"
    registry_report_locations: Sequence[str] = ()
    endpoint_url: str | None = None
    region: str | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, *, endpoint_url: str | None = None, region: str | None = None
    ) -> Accounts:
        """The accounts a deployment's settings name."""
        return cls(
            registry=settings.registry_account,
            workloads=dict(settings.workload_accounts),
            evidence_role=settings.evidence_role,
            registry_report_locations=tuple(settings.report_locations),
            endpoint_url=endpoint_url,
            region=region,
        )

    def event_refusal(self, account: str, *, home: str | None) -> str | None:
        """Why an event of ``account`` is not this deployment's, or ``None`` when it is.

        ``home`` is the account the function runs in (``None`` where unknown: a local run).
        """
        if home is None or account == home or account in self.workloads:
            return None
        if not self.workloads:
            return f"the event is about account {account}, this function runs in {home}"
        return (
            f"the event is about account {account}: neither the account registrar runs in ({home}) nor a listed "
            f"workload account ({', '.join(self.workloads)})"
        )

    def version_refusal(self, version_arn: str, *, named_in: str) -> str | None:
        """Why registrar may not act on ``version_arn``, or ``None`` when it is a version of the registry account.

        Parameters
        ----------
        version_arn
            The version an event or a job's tag names.
        named_in
            The account of the event or job that named it: the registry account when none is set.
        """
        home = groups.account_and_region(version_arn)
        if home is None:
            return None  # not a version ARN: the caller says so in its own words
        expected = self.registry or named_in
        if home[0] == expected:
            return None
        return (
            f"model package {version_arn} is in account {home[0]}: registrar manages the model package groups "
            f"of account {expected} alone"
        )

    def neo_output_locations(self, account: str, own: Sequence[str]) -> Sequence[str]:
        """Where a compilation job of ``account`` must write its compiled model: a workload's own, else ``own``."""
        workload = self.workloads.get(account)
        return workload.neo_output_locations if workload is not None else own

    def report_locations(self) -> dict[str, str]:
        """Every workload's report locations, each mapped to its account."""
        return {location: account for account, w in self.workloads.items() for location in w.report_locations}

    def owner_of_report(self, uri: str) -> str | None:
        """The workload account whose report locations hold ``uri``; ``None`` for the registry's own."""
        return next(
            (account for account, w in self.workloads.items() if object_within(uri, w.report_locations)),
            None,
        )

    def is_registry_report(self, uri: str) -> bool:
        """Whether ``uri`` lies in the registry's own report locations (and in no workload's)."""
        return self.owner_of_report(uri) is None and (
            not self.registry_report_locations or object_within(uri, self.registry_report_locations)
        )

    def role_arn(self, account: str) -> str:
        """The evidence role's ARN in workload ``account``.

        Raises
        ------
        UntrustedAccountError
            ``account`` is not a listed workload account.
        """
        if account not in self.workloads:
            raise UntrustedAccountError(
                f"account {account} is not a listed workload account: registrar never assumes a role there"
            )
        return f"arn:{_partition(self.region or os.environ.get('AWS_REGION'))}:iam::{account}:role/{self.evidence_role}"

    def reached_directly(self, account: str | None) -> bool:
        """Whether ``account`` is reached with the function's own credentials; ``False`` for a workload's role.

        Raises
        ------
        UntrustedAccountError
            ``account`` is neither a workload, nor the registry account, nor unknown (``None``, or any
            account when no registry account is set: a local run).
        """
        if account is not None and account in self.workloads:
            return False
        if account is not None and self.registry is not None and account != self.registry:
            raise UntrustedAccountError(
                f"account {account} is neither the registry account ({self.registry}) nor a listed workload account"
            )
        return True

    def client(self, service: str, account: str | None) -> Any:
        """A client acting in ``account``: the function's own, or through the evidence role in a workload.

        Raises
        ------
        UntrustedAccountError
            As :meth:`reached_directly`.
        """
        if account is None or self.reached_directly(account):
            return aws.client(service, self.endpoint_url, self.region)
        return aws.assumed_client(service, self.role_arn(account), self.endpoint_url, self.region)


def arn_account(arn: str | None) -> str | None:
    """The account field of an ARN (``arn:partition:service:region:account:...``), or ``None``."""
    parts = (arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


def _partition(region: str | None) -> str:
    if region is not None and region.startswith("cn-"):
        return "aws-cn"
    if region is not None and region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"
