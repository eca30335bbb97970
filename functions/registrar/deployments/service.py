"""The deployment flow: an endpoint that went ``InService`` records, on each version it serves, where it went live.

Two steps, so that what deduplicates an event is what the flow acts on, as read back from AWS:

- :meth:`DeploymentFlow.resolve` reads the endpoint the event names (DescribeEndpoint), the configuration
  it serves (DescribeEndpointConfig: production and shadow variants; a serverless variant is one of them)
  and each variant's model (DescribeModel: ``PrimaryContainer`` and ``Containers``, each container's
  ``ModelPackageName``), and keeps the versioned model packages of managed groups in this account and
  region. The event gives only the endpoint's name: it names no model (docs/sagemaker.md#endpoint).
- :meth:`DeploymentFlow.decide_and_write` writes a live record (:mod:`registrar.deployments.record`) on
  each version served, closes the record of each version the endpoint served before and serves no more
  (the endpoint's last served set, :mod:`registrar.deployments.ledger`), and then keeps the new served
  set. Each write is one UpdateModelPackage with its ClientToken, announced as a ``Registrar Decision``
  (verdict ``Deployed`` or ``Retired``, flow ``deployment``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, cast

from registrar import aws, groups
from registrar.decisions.announce import Announcer, DecisionInFlightError
from registrar.decisions.contract import DecisionVerdict
from registrar.deployments.ledger import Ledger, ServedSet, stamp
from registrar.deployments.record import (
    format_time,
    has_room,
    live_value,
    parse_record,
    record_key,
    retired_value,
)
from registrar.events import IN_SERVICE_STATUSES, EndpointEvent, parse_event, utc
from registrar.outcome import Outcome
from registrar.package import ModelPackage
from registrar.plan import metadata_record
from registrar.settings import Settings, deployed_settings
from registrar.updates import PackageUpdate

EVENTS = (EndpointEvent,)


def parse(raw: Any) -> EndpointEvent:
    """The deployment flow's event; any other is invalid.

    Raises
    ------
    registrar.errors.EventError
        Naming the field and the rule.
    """
    return cast(EndpointEvent, parse_event(raw, EVENTS))


class EndpointRegistry(Protocol):
    """The calls recording a deployment makes (:class:`registrar.registry.Registry` has them)."""

    def describe(self, model_package_arn: str) -> ModelPackage: ...

    def update(self, update: PackageUpdate) -> str: ...

    def describe_endpoint(self, name: str) -> dict[str, Any]: ...

    def describe_endpoint_config(self, name: str) -> dict[str, Any]: ...

    def describe_model(self, name: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Serving:
    """How an endpoint serves one version: the variants whose model uses it."""

    variants: tuple[str, ...] = ()
    shadow_variants: tuple[str, ...] = ()


@dataclass(frozen=True)
class Target:
    """An ``InService`` endpoint and the managed versions it serves, as read from SageMaker.

    Attributes
    ----------
    endpoint_name, endpoint_arn, status, endpoint_config
        As DescribeEndpoint answered.
    modified
        The endpoint's ``LastModifiedTime``: when the creation or the update that put it in service ended.
    served
        Version ARN -> the variants serving it; versions of managed groups in the endpoint's account and
        region only.
    notes
        What was left out, and why (a package given by name, an unmanaged group, a model that is gone).
    """

    endpoint_name: str
    endpoint_arn: str
    status: str
    endpoint_config: str
    modified: datetime | None
    served: dict[str, Serving] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def subject(self) -> str:
        """The idempotency key: the endpoint, its status and its ``LastModifiedTime``, as DescribeEndpoint answered."""
        return f"{self.endpoint_arn}|{self.status}|{stamp(self.modified) or '-'}"


@dataclass(frozen=True)
class _Write:
    verdict: DecisionVerdict
    arn: str
    request: dict[str, Any]
    reason: str


@dataclass
class DeploymentFlow:
    """Everything recording a deployment needs, injected.

    Parameters
    ----------
    registry
        SageMaker (a :class:`registrar.registry.Registry`, or a fake with the same calls).
    managed_groups
        Model package group names or fnmatch patterns registrar may change; empty allows any.
    ledger
        Where each endpoint's last served set is kept; ``None`` (a CLI run without a table) retires nothing.
    announcer
        Makes each write and publishes its ``Registrar Decision``; ``None`` writes without announcing.
    """

    registry: EndpointRegistry
    managed_groups: Sequence[str] = field(default_factory=tuple)
    ledger: Ledger | None = None
    announcer: Announcer | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, *, endpoint_url: str | None = None, region: str | None = None
    ) -> DeploymentFlow:
        """The flow on AWS (or the endpoint given), configured by ``settings``."""
        from registrar.decisions.announce import announcer_for
        from registrar.deployments.ledger import DeploymentLedger
        from registrar.registry import Registry

        ledger = (
            DeploymentLedger(settings.table_name, endpoint_url=endpoint_url, region=region)
            if settings.table_name
            else None
        )
        return cls(
            registry=Registry(endpoint_url=endpoint_url, region=region),
            managed_groups=tuple(settings.managed_groups),
            ledger=ledger,
            announcer=announcer_for(settings, endpoint_url=endpoint_url, region=region),
        )

    def handle(self, event: EndpointEvent, *, apply: bool = True) -> Outcome:
        """Record where the versions an endpoint serves went live; ``apply=False`` plans only.

        Returns
        -------
        Outcome
            ``updated`` (verdict ``Deployed`` when a live record was written, else ``Retired``),
            ``unchanged`` (every record already says so), or ``skipped`` (not in service, or no managed
            version served now or before).
        """
        target = self.resolve(event)
        return target if isinstance(target, Outcome) else self.decide_and_write(target, apply=apply)

    def resolve(self, event: EndpointEvent) -> Target | Outcome:
        """The endpoint the event names and the managed versions it serves, read from SageMaker.

        Raises
        ------
        botocore.exceptions.ClientError
            Any AWS error but "not found": the event is retried, then dead-lettered.
        """
        detail = event.detail
        if detail.EndpointStatus not in IN_SERVICE_STATUSES:
            status = detail.EndpointStatus
            return Outcome.skipped(f"endpoint {detail.EndpointName} is {status}: only IN_SERVICE is recorded")
        endpoint = self._describe(self.registry.describe_endpoint, detail.EndpointName, "endpoint")
        if isinstance(endpoint, Outcome):
            return endpoint
        name = str(endpoint.get("EndpointName") or detail.EndpointName)
        status = str(endpoint.get("EndpointStatus") or "")
        if status not in IN_SERVICE_STATUSES:
            # An update began since the event: the update's own IN_SERVICE event records what it serves.
            return Outcome.skipped(
                f"endpoint {name} is {status or 'without a status'} now, not InService: "
                "its next IN_SERVICE event records what it serves",
                final=False,
            )
        config_name = str(endpoint.get("EndpointConfigName") or "")
        config = self._describe(self.registry.describe_endpoint_config, config_name, "endpoint configuration")
        if isinstance(config, Outcome):
            return config
        endpoint_arn = str(endpoint.get("EndpointArn") or detail.EndpointArn)
        served, notes = self._served(config, endpoint_arn)
        return Target(
            endpoint_name=name,
            endpoint_arn=endpoint_arn,
            status=status,
            endpoint_config=config_name,
            modified=utc(endpoint.get("LastModifiedTime")),
            served=served,
            notes=tuple(notes),
        )

    def _describe(self, call: Any, name: str, kind: str) -> dict[str, Any] | Outcome:
        try:
            return cast(dict[str, Any], call(name))
        except Exception as error:
            if not aws.is_not_found(error):
                raise
            # Deleted since the event: nothing serves any more that this event could record.
            return Outcome.skipped(f"{kind} {name} cannot be described: {aws.error_message(error)}")

    def _served(self, config: dict[str, Any], endpoint_arn: str) -> tuple[dict[str, Serving], list[str]]:
        variants: dict[str, list[str]] = {}
        shadows: dict[str, list[str]] = {}
        notes: list[str] = []
        models: dict[str, list[str]] = {}
        for member, into in (("ProductionVariants", variants), ("ShadowProductionVariants", shadows)):
            for variant in config.get(member) or []:
                model = variant.get("ModelName")
                if not model:
                    continue  # an inference component endpoint's variant names no model
                if model not in models:
                    models[model] = self._packages_of(model, notes)
                for arn in models[model]:
                    into.setdefault(arn, []).append(str(variant.get("VariantName") or "-"))
        served: dict[str, Serving] = {}
        for arn in sorted({*variants, *shadows}):
            reason = self._unrecordable(arn, endpoint_arn)
            if reason is not None:
                notes.append(reason)
                continue
            served[arn] = Serving(tuple(variants.get(arn, ())), tuple(shadows.get(arn, ())))
        return served, notes

    def _packages_of(self, model_name: str, notes: list[str]) -> list[str]:
        """The model package names of a model's containers, in order, each once."""
        model = self._describe(self.registry.describe_model, model_name, "model")
        if isinstance(model, Outcome):
            notes.extend(model.reasons)
            return []
        containers = [model.get("PrimaryContainer") or {}, *(model.get("Containers") or [])]
        names = [str(c["ModelPackageName"]) for c in containers if isinstance(c, dict) and c.get("ModelPackageName")]
        if not names:
            notes.append(f"model {model_name} is not deployed from a model package")
        return list(dict.fromkeys(names))

    def _unrecordable(self, package: str, endpoint_arn: str) -> str | None:
        if not groups.is_version_arn(package):
            return f"model package {package} is not a versioned model package ARN: not recorded"
        endpoint_home = endpoint_arn.split(":")[4:2:-1]  # [account, region]
        home = groups.account_and_region(package)
        if home is not None and list(home) != endpoint_home:
            return f"{package} belongs to another account or region than the endpoint: not recorded"
        return groups.unmanaged_reason(package, self.managed_groups)

    def decide_and_write(self, target: Target, *, apply: bool = True) -> Outcome:
        """Record each served version as live, close the record of each version no longer served, keep the set.

        Versions whose package holds 50 metadata entries and no record for this endpoint get nothing, and
        the outcome says so.
        """
        previous = self.ledger.served(target.endpoint_arn) if self.ledger is not None else None
        before = previous.versions if previous is not None else frozenset()
        if not target.served and not before:
            reasons = [*target.notes, f"endpoint {target.endpoint_name} serves no version of a managed group"]
            return Outcome.skipped(reasons)
        at = target.modified or datetime.now(UTC)
        writes: list[_Write] = []
        notes = list(target.notes)
        try:
            for arn, serving in target.served.items():
                self._go_live(target, arn, serving, at, writes, notes, apply=apply)
            for arn in sorted(before - set(target.served)):
                self._retire(target, arn, at, writes, notes, apply=apply)
        except DecisionInFlightError as error:
            return Outcome.early([*(w.reason for w in writes), str(error)])
        if apply and self.ledger is not None:
            served = ServedSet(frozenset(target.served), stamp(target.modified), target.endpoint_config)
            if previous != served:
                self.ledger.remember(target.endpoint_arn, served)
        return _outcome(writes, notes)

    def _go_live(
        self,
        target: Target,
        arn: str,
        serving: Serving,
        at: datetime,
        writes: list[_Write],
        notes: list[str],
        *,
        apply: bool,
    ) -> None:
        package = self._package(arn, notes)
        if package is None:
            return
        if apply and self.announcer is not None:
            self.announcer.recover(package)
        key = record_key(target.endpoint_name)
        metadata = package.CustomerMetadataProperties
        current = parse_record(key, metadata.get(key, ""))
        since = current.since if current is not None and current.live else at
        value = live_value(since, serving.variants, serving.shadow_variants)
        if metadata.get(key) == value:
            notes.append(f"{arn} already records it serves on {target.endpoint_name} since {format_time(since)}")
            return
        if not has_room(metadata, key):
            notes.append(
                f"{arn} holds {len(metadata)} metadata entries, the most a package may: "
                f"its deployment on {target.endpoint_name} is not recorded"
            )
            return
        reason = f"{arn} serves on endpoint {target.endpoint_name} since {format_time(since)}: {key} = {value}"
        self._write(target, package, key, value, "Deployed", reason, writes, apply=apply)

    def _retire(
        self, target: Target, arn: str, at: datetime, writes: list[_Write], notes: list[str], *, apply: bool
    ) -> None:
        unmanaged = groups.unmanaged_reason(arn, self.managed_groups)
        if unmanaged is not None:
            notes.append(f"{arn} no longer served, not retired: {unmanaged}")
            return
        package = self._package(arn, notes)
        if package is None:
            return
        if apply and self.announcer is not None:
            self.announcer.recover(package)
        key = record_key(target.endpoint_name)
        current = parse_record(key, package.CustomerMetadataProperties.get(key, ""))
        if current is None or not current.live:
            notes.append(f"{arn} no longer served on {target.endpoint_name}, and records no live deployment there")
            return
        value = retired_value(current, at)
        reason = f"{arn} no longer serves on endpoint {target.endpoint_name} since {format_time(at)}: {key} = {value}"
        self._write(target, package, key, value, "Retired", reason, writes, apply=apply)

    def _package(self, arn: str, notes: list[str]) -> ModelPackage | None:
        try:
            return self.registry.describe(arn)
        except Exception as error:
            if not aws.is_not_found(error):
                raise
            notes.append(f"model package {arn} cannot be described: {aws.error_message(error)}")
            return None

    def _write(
        self,
        target: Target,
        package: ModelPackage,
        key: str,
        value: str,
        verdict: DecisionVerdict,
        reason: str,
        writes: list[_Write],
        *,
        apply: bool,
    ) -> None:
        update = metadata_record(package, key, value)
        if update is None:  # pragma: no cover - the callers checked the value and the room
            return
        if apply:
            if self.announcer is None:
                self.registry.update(update)
            else:
                detail = self.announcer.detail(package, update, verdict=verdict, flow="deployment", reasons=[reason])
                self.announcer.commit(self.registry.update, update, detail)
        writes.append(_Write(verdict, package.ModelPackageArn, update.to_request(), reason))


def _outcome(writes: Sequence[_Write], notes: Sequence[str]) -> Outcome:
    if not writes:
        return Outcome.unchanged([*notes, "every record already says so; nothing to write"], arn=None)
    verdict = "Deployed" if any(write.verdict == "Deployed" for write in writes) else "Retired"
    reasons = [*(write.reason for write in writes), *notes]
    if len(writes) == 1:
        return Outcome.updated(writes[0].request, reasons, arn=writes[0].arn, verdict=verdict)
    # Several versions written: the reasons name each write (the Outcome holds one request).
    return Outcome(outcome="updated", reasons=reasons, verdict=verdict)


@functools.cache
def deployed() -> DeploymentFlow:
    """The deployment flow of a Lambda container, configured from its ``REGISTRAR_*`` environment on first use."""
    return DeploymentFlow.from_settings(deployed_settings())
