"""How ``registrar demo`` tells its story: colour and a spinner on a terminal, plain lines otherwise."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from registrar_dev.demo import HandledEvent, ScenarioResult

_STYLES = {"updated": "green", "unchanged": "cyan", "skipped": "yellow", "invalid": "red"}


def _short(arn: str | None) -> str:
    return arn.split("model-package/", 1)[-1] if arn else "-"


def _job(arn: str) -> str:
    """``processing-job/credit-risk-eval-1`` of a job's ARN."""
    return arn.rsplit(":", 1)[-1] if arn else "-"


class Story:
    """Prints the demo as it happens (uses ``rich`` when installed and stdout is a terminal)."""

    def __init__(self) -> None:
        self.console: Any = None
        if sys.stdout.isatty():
            try:
                from rich.console import Console

                self.console = Console()
            except ImportError:  # rich is a dev dependency; plain text is fine without it
                self.console = None

    def line(self, text: str, style: str | None = None) -> None:
        if self.console is not None:
            self.console.print(text, style=style, highlight=False, markup=False)
        else:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    def started(self, endpoint: str) -> None:
        self.line(f"registrar demo — embedded AWS emulator at {endpoint}", "bold")
        self.line("registering model versions and starting Neo compilations through the SageMaker API…")

    @contextlib.contextmanager
    def progress(self) -> Iterator[Callable[[str], None]]:
        if self.console is None:
            yield lambda _message: None
            return
        with self.console.status("waiting for events…") as status:
            yield lambda message: status.update(message)

    def event(self, handled: HandledEvent) -> None:
        outcome = handled.outcome
        why = "; ".join(outcome.reasons)
        verdict = f" {outcome.verdict}" if outcome.verdict else ""
        text = f"  {handled.flow:<8} {_short(outcome.model_package_arn):<16} {outcome.outcome}{verdict} — {why}"
        self.line(text[:400], _STYLES.get(outcome.outcome))

    def summary(self, result: ScenarioResult) -> None:
        self.line("")
        self.line("every version, before → after", "bold")
        for label, arn in result.versions.items():
            before, after = result.before.get(label, {}), result.after.get(label, {})
            specs = [spec["Name"] for spec in after.get("AdditionalInferenceSpecifications", [])]
            decided_by = after.get("CustomerMetadataProperties", {}).get("registrar:decided-by", "")
            by = f" (by {decided_by.removeprefix('person:')})" if decided_by.startswith("person:") else ""
            self.line(
                f"  {label:<27} {_short(arn):<16} "
                f"{before.get('ModelApprovalStatus')} → {after.get('ModelApprovalStatus')}{by}",
                "bold",
            )
            self.line(f"      description: {after.get('ApprovalDescription') or '-'}")
            self.line(f"      specifications: {', '.join(specs) or '-'}")
            metadata = after.get("CustomerMetadataProperties", {})
            for key in sorted(metadata):
                if key.startswith("registrar:") and not key.startswith("registrar:metric"):
                    self.line(f"      {key} = {metadata[key]}")
        outcomes: dict[str, int] = {}
        for handled in result.handled:
            outcomes[handled.outcome.outcome] = outcomes.get(handled.outcome.outcome, 0) + 1
        self.line("")
        self.line(
            "outcomes: "
            + ", ".join(f"{count} {name}" for name, count in sorted(outcomes.items()))
            + f" · {result.sweeps} sweeps · {result.seconds:.1f} s",
            "bold",
        )
        self.line(
            "registrar's AWS calls: " + ", ".join(f"{name} ×{count}" for name, count in sorted(result.calls.items()))
        )
        if result.policy_parameter:
            self.line(f"the approval policy was read from the SSM parameter {result.policy_parameter}, as deployed")
        if result.leftover:
            for queue, bodies in result.leftover.items():
                self.line(f"left in {queue}: {len(bodies)} message(s)", "red")
                for body in bodies[:3]:
                    self.line(f"    {body[:200]}", "red")
        else:
            self.line("nothing lost: every flow's queue is empty", "green")
        for flow, bodies in result.dead_letters.items():
            for body in bodies:
                expected = result.expected_dead_letter(flow, body)
                if expected is None:
                    self.line(f"unexpected in the {flow} DLQ: {body[:200]}", "red")
                else:
                    receives = result.receives(expected)
                    style = "green" if receives == expected.receives else "red"
                    self.line(f"in the {flow} DLQ as expected after {receives} receives: {expected.label}", style)
        self.line("(the flow rules' DLQs are not checked: the emulator ignores an SQS target's DeadLetterConfig)")
        self.notifications(result)
        self.approvers(result)
        self.cross_account(result)
        problems = result.mismatches()
        if problems:
            self.line("NOT as the policy says:", "bold red")
            for problem in problems:
                self.line(f"  {problem}", "red")
        else:
            self.line("every version ended where the policy says it must ✔", "bold green")

    def notifications(self, result: ScenarioResult) -> None:
        """Each decision as its people heard of it: the e-mail SNS sent and the message posted to chat."""
        from registrar_dev.demo import SUBSCRIBER

        self.line("")
        self.line(
            f"who heard of it — {len(result.decisions)} Registrar Decision events, each e-mailed to {SUBSCRIBER} "
            f"(SNS) and posted to the chat webhook at {result.chat_url} (API destination)",
            "bold",
        )
        mailed = [text.strip() for to, text in result.emails if to == SUBSCRIBER]
        for decision in result.decisions:
            summary = decision.summary
            style = "green" if mailed.count(summary) == 1 and result.chat_messages.count(summary) == 1 else "red"
            lines = summary.splitlines()
            self.line(f"  ✉ to {SUBSCRIBER}: {lines[0]}", style)
            for line in lines[1:]:
                self.line(f"      {line}")
            self.line(f"  💬 chat ({result.chat_messages.count(summary)}×): {lines[0]}", style)

    def approvers(self, result: ScenarioResult) -> None:
        """The e-mails SES sent the approvers, and the approver following their link to the decision page."""
        self.line("")
        self.line(f"decided by a person — the decision page at {result.page_url}", "bold")
        for mail in result.approver_emails:
            self.line(f"  ✉ SES to {mail['to']}: {mail['subject']}")
            for line in mail["body"].splitlines():
                if "/decide?token=" in line:
                    self.line(f"      link: {line.strip()[:110]}…")
        person = result.person
        if person is None:
            self.line("  nobody followed a link", "red")
            return
        ok = (person.shown, person.evidence_shown, person.decided, person.again) == (200, True, 200, 403)
        self.line(
            f"  the approver opened the link (HTTP {person.shown}, evidence shown: {person.evidence_shown}), "
            f"approved (HTTP {person.decided}); the same link again: HTTP {person.again}",
            "green" if ok else "red",
        )

    def cross_account(self, result: ScenarioResult) -> None:
        """The scene of several accounts: which account did what, where the version ended, the forgery refused."""
        from registrar_dev.demo import CREDIT, UNLISTED, WORKLOAD
        from registrar_dev.support import ACCOUNT

        scene = result.cross_account
        if scene is None:
            return
        ok = not scene.mismatches()
        after = scene.after
        roles = {flow: arn.rsplit("/", 1)[-1] for flow, arn in scene.function_roles.items()}
        self.line("")
        self.line(f"several accounts — registry {ACCOUNT}, workload {WORKLOAD}", "bold")
        self.line(
            f"  {WORKLOAD} registered {_short(scene.version_arn)} into the registry's {CREDIT} group "
            "(CreateModelPackage with the group's ARN, allowed by the group's policy)"
        )
        self.line(f"  {WORKLOAD} evaluated it: {_job(scene.evaluation_job)}, report {scene.report_uri}")
        self.line(
            f"  {ACCOUNT} decided it: the job's event forwarded to its bus, the approval function (role "
            f"{roles.get('approval')}) read the job and the report through {WORKLOAD}'s evidence role "
            f"({len(scene.assumed.get('approval', []))} AssumeRole)"
        )
        self.line(
            f"      {scene.before.get('ModelApprovalStatus')} → {after.get('ModelApprovalStatus')}: "
            f"{after.get('ApprovalDescription') or '-'}",
            "green" if after.get("ModelApprovalStatus") == "Approved" else "red",
        )
        specs = [spec["Name"] for spec in after.get("AdditionalInferenceSpecifications", [])]
        self.line(
            f"  {WORKLOAD} compiled it: {_job(scene.compilation_job)}; its sweeper announced {scene.swept} job on "
            f"{WORKLOAD}'s bus, forwarded; the Neo function (role {roles.get('neo')}, "
            f"{len(scene.assumed.get('neo', []))} AssumeRole) attached {', '.join(specs) or 'nothing'}"
        )
        for undelivered in scene.undelivered:
            self.line(f"  {WORKLOAD}'s {undelivered.rule} refused by the registry: {undelivered.error_code}", "red")
        refused = ", ".join(sorted({u.error_code for u in scene.forged})) or "not refused"
        changed = "nothing changed" if scene.after_forged == after and not scene.forged_received else "IT CHANGED"
        how = "refused by the bus policy" if refused == "AccessDenied" else refused
        self.line(
            f"  forged event from {UNLISTED}: {how}, {changed} (an evaluation of its own tagged with "
            f"{_short(scene.version_arn)}, in its forwarder's dead-letter queue: {refused})",
            "green" if ok else "red",
        )

    def kept(self, endpoint: str, page_url: str, held_arn: str) -> None:
        self.line(f"endpoint: {endpoint}", "bold")
        self.line(f"decision page: {page_url}", "bold")
        self.line("the emulator and the decision page keep running (Ctrl-C to stop)")
        self.line(
            f"  decide the version still held yourself: registrar link {held_arn} --for you@example.com "
            f"--page-url {page_url} --endpoint-url {endpoint}"
        )
        self.line(
            f"  try: aws --endpoint-url {endpoint} sagemaker list-model-packages --model-package-group-name churn-model"
        )
