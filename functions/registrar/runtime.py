"""The runtime: dependencies built once per process, and the one entry point that handles an event.

Handlers and the CLI share this, so the same event goes through the same steps everywhere:
parse → (loop guard) → read state → decide → validate → plan → apply.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from registrar.events import CompilationJobEvent, ModelPackageEvent, RegistrarEvent, parse_event
from registrar.outcome import Outcome
from registrar.registry import Registry
from registrar.settings import Settings

if TYPE_CHECKING:
    from registrar.approval.policy import Policy
    from registrar.reports import ReportStore


@dataclass
class Runtime:
    """Everything handling an event needs, injected; tests pass fakes or emulator-backed adapters.

    Parameters
    ----------
    settings
        The parsed ``REGISTRAR_*`` environment.
    registry
        The SageMaker adapter.
    reports
        The S3 report reader, restricted to ``settings.report_locations``; built on first use.
    policy
        A callable returning the current policy (cached by its source); called only for
        approval events, so the Neo flow never needs a policy.
    """

    settings: Settings
    registry: Registry = field(default_factory=Registry)
    reports: ReportStore | None = None
    policy: Callable[[], Policy] | None = None

    def report_store(self) -> ReportStore:
        if self.reports is None:
            from registrar.reports import ReportStore

            self.reports = ReportStore(allowed_locations=self.settings.report_locations)
        return self.reports

    def current_policy(self) -> Policy:
        if self.policy is None:
            from registrar import policy_source

            self.policy = functools.partial(policy_source.load, self.settings)
        return self.policy()

    def handle(self, raw: Any, *, apply: bool = True) -> Outcome:
        """Handle one EventBridge event (a dict); raises EventError when it is not one registrar handles."""
        return self.handle_event(parse_event(raw), apply=apply)

    def handle_event(self, event: RegistrarEvent, *, apply: bool = True) -> Outcome:
        """Handle one parsed event: the Neo flow for compilation jobs, the approval flow otherwise."""
        if isinstance(event, CompilationJobEvent):
            from registrar.neo import service as neo

            return neo.handle(event, registry=self.registry, apply=apply, managed_groups=self.settings.managed_groups)
        if isinstance(event, ModelPackageEvent) and event.detail.caused_by_own_write:
            return Outcome(
                outcome="skipped",
                model_package_arn=event.detail.ModelPackageArn,
                reasons=[
                    "loop guard: the event reports only fields registrar writes "
                    f"({', '.join(event.detail.UpdatedModelPackageFields)})"
                ],
            )
        from registrar.approval import service as approval

        return approval.handle(
            event,
            registry=self.registry,
            reports=self.report_store(),
            policy=self.current_policy(),
            apply=apply,
            managed_groups=self.settings.managed_groups,
        )


@functools.cache
def default_runtime() -> Runtime:
    """The process-wide runtime of a Lambda container, built on the first event."""
    return Runtime(settings=Settings.from_environment())
