"""The decision page: a person opens a decision link, reads the evidence, and approves or rejects a held version.

``GET /decide?token=T`` shows the version (group, version, created, description, status, ApprovalDescription)
and the evidence as registrar recorded it on the version (:func:`registrar.history.story`: every metric beside
its threshold and the champion's value when compared, the report, the rule, the policy digest, the reasons),
then a form with the actions the link allows and an optional comment. It reads and never writes: no ledger
entry, no UpdateModelPackage.

``POST /decide`` (form-encoded ``token``, ``action``, ``comment``; at most :data:`MAX_FORM_BYTES`) verifies the
token, checks that the action is the capability's, consumes the link once (:class:`~registrar.decisions.links.
LinkLedger`) and decides through :func:`~registrar.decisions.person.decide_as_person` (``via="link"``, ``by`` the
link's recipient). A version that is no longer ``PendingManualApproval`` is shown with its status and who changed
it, and nothing is written: neither the version nor the ledger (the link stays unused until it expires, so
a version put back for review can still be decided with it).

Every refusal of a link (malformed, tampered, expired, used, another version's, an unmanaged group's, a version
that no longer exists) is one page, byte for byte the same (:data:`REFUSED`), naming nothing: whoever holds a
wrong token learns nothing from it. The reason goes to the log only.

``GET /group?token=T`` shows a model package group's whole story, every version newest first
(:class:`~registrar.decisions.group_view.GroupView`: status, who decided and when, metrics against thresholds,
Neo specifications, deployments). A group's link (``registrar link --group``) that allows ``rollback`` adds the
rollback form (the version to restore, defaulting to the rollback's own default target, and a required reason),
posted to ``POST /rollback`` (:meth:`DecisionPage.rollback`: the same orchestration as ``registrar rollback``,
:mod:`registrar.rollback_service`, as the link's recipient). A version's link opens its own version's group
read-only (the version page links to it), under the version page's own checks; it never rolls back. A rollback
the logic refuses (no champion, a target never Approved, the champion changed) is a 409 page with its reason, not
a refusal of the link; the link is spent only once a write may have been made.

Rendering is Jinja2 with autoescape over ``templates/``: everything that comes from a package, a report or a
person is escaped, and no template marks such data safe. The stylesheet (``templates/page.css``, no web fonts)
is inlined in every page and allowed by its hash in the Content-Security-Policy (:data:`SECURITY_HEADERS`), so
a page loads nothing at all, from anywhere: one request, and ``style-src`` admits that stylesheet alone.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, ValidationError

from registrar import aws, rollback_service
from registrar.decisions import links
from registrar.decisions.group_view import GroupView
from registrar.decisions.person import PENDING, PersonDecision, PersonDecisionRefusedError, decide_as_person
from registrar.errors import ConfigurationError
from registrar.groups import first_match, unmanaged_reason
from registrar.history import MAX_VERSIONS, MetricRow, VersionStory, group_versions, story
from registrar.package import ModelPackage
from registrar.rollback import MAX_REASON, RollbackRefusedError, RollbackRequest

if TYPE_CHECKING:
    from registrar.decisions.announce import Announcer
    from registrar.outcome import Outcome
    from registrar.settings import Settings

TEMPLATES: Final = Path(__file__).resolve().parent / "templates"
PATH: Final = "/decide"
# A group's history (GET) and its rollback (POST): module docstring of registrar.decisions.group_view, and below.
GROUP_PATH: Final = "/group"
ROLLBACK_PATH: Final = "/rollback"
# Browsers ask for it on every page: answered with nothing (204), not a 404 page.
FAVICON: Final = "/favicon.ico"
ALLOWED_METHODS: Final = ("GET", "POST")
# A form of a token (~400 characters), an action and a comment fits in far less; anything larger is refused unread.
MAX_FORM_BYTES: Final = 8 * 1024
# The comment a person may write (PersonDecision's own limit is the description's room: 900).
MAX_COMMENT: Final = 900
FORM_TYPE: Final = "application/x-www-form-urlencoded"
VERDICTS: Final[dict[str, Literal["Approved", "Rejected"]]] = {"approve": "Approved", "reject": "Rejected"}

CSS: Final = (TEMPLATES / "page.css").read_text(encoding="utf-8")
STYLE_HASH: Final = "sha256-" + base64.b64encode(hashlib.sha256(CSS.encode("utf-8")).digest()).decode("ascii")
CONTENT_SECURITY_POLICY: Final = (
    f"default-src 'none'; style-src '{STYLE_HASH}'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# On every response, whatever its status.
SECURITY_HEADERS: Final[Mapping[str, str]] = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


# --- rendering (pure) ----------------------------------------------------------------------------------------------


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def _threshold(row: MetricRow) -> str:
    if row.min is not None and row.max is not None:
        return f"≥ {row.min:g} and ≤ {row.max:g}"
    if row.min is not None:
        return f"≥ {row.min:g}"
    if row.max is not None:
        return f"≤ {row.max:g}"
    return "—"


def _status_class(status: str | None) -> str:
    return {"Approved": "approved", "Rejected": "rejected", PENDING: "pending"}.get(status or "", "none")


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    environment.filters.update(when=_when, number=_number, threshold=_threshold)
    # The stylesheet is this package's own file, never data: inlined as it is, its hash is the CSP's.
    environment.globals.update(css=Markup(CSS), status_class=_status_class)
    return environment


ENVIRONMENT: Final = _environment()
_DESCRIPTION = re.compile(r"registrar: \S+ — (?P<body>.*) \(policy (?P<policy>[^()]*)\)")


def recorded_reasons(description: str | None) -> list[str]:
    """registrar's reasons, as its ``ApprovalDescription`` states them (``auc 0.81 < min 0.85; ...``); else none."""
    matched = _DESCRIPTION.fullmatch(description or "")
    return [part for part in matched["body"].split("; ") if part] if matched else []


class VersionView(BaseModel):
    """What a page shows of a version: its story (:func:`registrar.history.story`) and a few more members.

    Attributes
    ----------
    story
        The version as registrar reads it back: status, who decided, metrics against thresholds, evidence.
    group
        The model package group.
    description
        ``ModelPackageDescription``, the version's own description.
    report
        Where the evaluation report was read from (``registrar:evidence``, else the version's model quality
        statistics).
    evaluation_job
        The evaluation job, when the version records it (registrar's decision event names it; the version
        does not).
    policy
        The digest of the policy registrar decided with (``registrar:policy``).
    reasons
        registrar's reasons, from its ``ApprovalDescription``.
    """

    model_config = ConfigDict(frozen=True)

    story: VersionStory
    group: str
    description: str | None = None
    report: str | None = None
    evaluation_job: str | None = None
    policy: str | None = None
    rule: str | None = None
    reasons: list[str] = []

    @property
    def compared(self) -> bool:
        """Whether registrar compared the version with a champion (a champion column is shown)."""
        return self.story.champion is not None or any(row.champion_value is not None for row in self.story.metrics)

    @classmethod
    def of(cls, package: ModelPackage) -> VersionView:
        """The view of ``package`` as DescribeModelPackage returned it."""
        told = story(package)
        extra = package.model_extra or {}
        statistics = ((package.ModelMetrics or {}).get("ModelQuality") or {}).get("Statistics") or {}
        description = extra.get("ModelPackageDescription")
        return cls(
            story=told,
            group=package.ModelPackageGroupName or "—",
            description=description if isinstance(description, str) else None,
            report=told.evidence or statistics.get("S3Uri"),
            policy=told.decided_by.policy or package.CustomerMetadataProperties.get("registrar:policy"),
            reasons=recorded_reasons(package.ApprovalDescription),
        )


def render(template: str, **context: Any) -> str:
    """A page from ``templates/<template>``, its context autoescaped."""
    return ENVIRONMENT.get_template(template).render(**context)


@dataclass(frozen=True)
class Page:
    """One HTTP answer: a status, an HTML body, and headers beyond :data:`SECURITY_HEADERS` (``Allow``)."""

    status: int
    body: str
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def all_headers(self) -> dict[str, str]:
        """:data:`SECURITY_HEADERS` and this page's own."""
        return {**SECURITY_HEADERS, **self.headers}


def problem(status: int, title: str, message: str, headers: Mapping[str, str] | None = None) -> Page:
    """A page for a request that is not a decision (404, 405, 413, ...); it names nothing of any version."""
    return Page(status, render("problem.html", title=title, message=message), dict(headers or {}))


# One refusal for every link that grants nothing: rendered once, the same bytes whatever went wrong.
REFUSED: Final = Page(403, render("refused.html"))
NOT_FOUND: Final = problem(404, "Page not found", "There is nothing at this address.")
METHOD_NOT_ALLOWED: Final = problem(
    405, "Method not allowed", "Open the link from your e-mail.", {"Allow": ", ".join(ALLOWED_METHODS)}
)
GROUP_METHOD_NOT_ALLOWED: Final = problem(
    405, "Method not allowed", "Open the link from your e-mail.", {"Allow": "GET"}
)
ROLLBACK_METHOD_NOT_ALLOWED: Final = problem(
    405, "Method not allowed", "Roll back from the group's page.", {"Allow": "POST"}
)


def not_allowed(path: str) -> Page:
    """The answer to a method a known path does not take (405 with its ``Allow``), or :data:`NOT_FOUND`."""
    return {
        PATH: METHOD_NOT_ALLOWED,
        GROUP_PATH: GROUP_METHOD_NOT_ALLOWED,
        ROLLBACK_PATH: ROLLBACK_METHOD_NOT_ALLOWED,
    }.get(path, NOT_FOUND)


NO_CONTENT: Final = Page(204, "")
TOO_LARGE: Final = problem(413, "Request too large", "The form is larger than a decision needs.")
UNSUPPORTED: Final = problem(415, "Unsupported form", "Send the decision from the page's own form.")
FAILED: Final = problem(
    500,
    "Something went wrong",
    "registrar could not complete the request. If you decided, the version may not have been written: "
    "open the version in the SageMaker console to check, or ask for a new link.",
)


# --- the flow ------------------------------------------------------------------------------------------------------


class Versions(Protocol):
    """The SageMaker calls the page makes (:class:`registrar.registry.Registry`, or a fake)."""

    def describe(self, model_package_arn: str) -> ModelPackage: ...

    def list_versions(self, group_name: str, limit: int) -> list[dict[str, Any]]: ...

    def list_packages(self, group_name: str, approval_status: str | None = None) -> Iterator[dict[str, Any]]: ...

    def latest_approved(self, group_name: str, *, excluding: str | None = None) -> ModelPackage | None: ...

    def update(self, update: Any) -> str: ...


class _RefusedError(Exception):
    """A link that grants nothing here; ``reason`` is for the log only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _now() -> datetime:
    return datetime.now(UTC)


class DecisionPage:
    """The page's two requests over injected dependencies (the handler builds them; tests pass fakes).

    Parameters
    ----------
    registry
        Where versions are described and written.
    announcer
        Publishes each person's decision (``None``: written without announcing).
    keys
        Returns the signing keys (called per request: the deployed one reads Secrets Manager through a cache).
    ledger
        Which links were used (:class:`~registrar.decisions.links.LinkLedger`).
    managed_groups
        fnmatch patterns of the groups registrar may act on; empty allows any.
    clock
        The current time (UTC).
    log
        Called with the reason of every refusal (the page never shows it).
    decide
        How a person's decision is written (:func:`~registrar.decisions.person.decide_as_person`).
    """

    def __init__(
        self,
        *,
        registry: Versions,
        announcer: Announcer | None,
        keys: Callable[[], links.SigningKeys],
        ledger: links.UsedLinks,
        managed_groups: Sequence[str] = (),
        clock: Callable[[], datetime] = _now,
        log: Callable[[str], None] = lambda _reason: None,
        decide: Callable[..., Outcome] = decide_as_person,
    ) -> None:
        self.registry = registry
        self.announcer = announcer
        self.keys = keys
        self.ledger = ledger
        self.managed_groups = tuple(managed_groups)
        self.clock = clock
        self.log = log
        self.decide_as_person = decide

    # GET: reads only.
    def show(self, token: str | None) -> Page:
        """The page of ``GET /decide?token=T``: the version, its evidence and the form; or the refusal."""
        try:
            capability = self._capability(token)
            package = self._package(capability)
        except _RefusedError as refused:
            self.log(refused.reason)
            return REFUSED
        view = VersionView.of(package)
        if package.ModelApprovalStatus != PENDING:
            return Page(200, render("changed.html", view=view, posted=False))
        body = render(
            "decide.html",
            view=view,
            token=token,
            actions=capability.actions,
            recipient=capability.recipient,
            expires_at=capability.expires_at,
            max_comment=MAX_COMMENT,
        )
        return Page(200, body)

    # POST: the one write, once.
    def decide(self, body: bytes | None, content_type: str | None) -> Page:
        """The page of ``POST /decide``: the decision written and confirmed, the version's new status, or a refusal.

        ``body`` is the request's bytes (:func:`body_bytes`): ``None`` when it was larger than
        :data:`MAX_FORM_BYTES`.
        """
        if body is None or len(body) > MAX_FORM_BYTES:
            return TOO_LARGE
        if (content_type or "").split(";")[0].strip().lower() != FORM_TYPE:
            return UNSUPPORTED
        try:
            form = _form(body)
            capability = self._capability(form.get("token"))
            action = form.get("action") or ""
            if not capability.allows(action):
                raise _RefusedError(f"action {action[:20]!r}: the link allows {', '.join(capability.actions)}")
            package = self._package(capability)
        except _RefusedError as refused:
            self.log(refused.reason)
            return REFUSED
        if package.ModelApprovalStatus != PENDING:
            return Page(409, render("changed.html", view=VersionView.of(package), posted=True))
        comment = (form.get("comment") or "").strip() or None
        try:
            PersonDecision(by=capability.recipient, comment=comment)
        except ValidationError:
            return problem(
                400,
                "Comment not accepted",
                f"Write the comment on one line, at most {MAX_COMMENT} characters, then open the link again.",
            )
        now = self.clock()
        if not self.ledger.consume(capability, used_by_action=action, at=now):
            self.log("used already (lost a race to another use)")
            return REFUSED
        try:
            outcome = self.decide_as_person(
                self.registry,
                self.announcer,
                package.ModelPackageArn,
                VERDICTS[action],
                by=capability.recipient,
                comment=comment,
                now=now,
                via="link",
            )
        except PersonDecisionRefusedError as error:
            return problem(409, "Not decided", f"{error}. The link is used: ask for a new one.")
        view = VersionView.of(self.registry.describe(package.ModelPackageArn))
        if outcome.outcome != "updated":  # decided by someone else between our read and the write
            return Page(409, render("changed.html", view=view, posted=True))
        return Page(
            200,
            render("done.html", view=view, verdict=VERDICTS[action], recipient=capability.recipient, comment=comment),
        )

    # GET /group: reads only.
    def show_group(self, token: str | None) -> Page:
        """The page of ``GET /group?token=T``: the group's history, and the rollback form if the link allows it.

        A group's link shows its group; a version's link (the token of ``GET /decide``) shows its own version's
        group, read-only, as long as the version page itself would open (the same checks: managed, unused, the
        version exists). Nothing is written.
        """
        try:
            capability = self._capability(token)
            group = self._group(capability)
        except _RefusedError as refused:
            self.log(refused.reason)
            return REFUSED
        view = GroupView.of(group, group_versions(group, limit=MAX_VERSIONS, registry=self.registry))
        body = render(
            "group.html",
            view=view,
            token=token,
            can_rollback=capability.kind == "group" and capability.allows("rollback"),
            recipient=capability.recipient,
            expires_at=capability.expires_at,
            max_reason=MAX_REASON,
        )
        return Page(200, body)

    # POST /rollback: two writes, once.
    def rollback(self, body: bytes | None, content_type: str | None) -> Page:
        """The page of ``POST /rollback`` (form ``token``, ``to``, ``reason``): the rollback made, or why not.

        The token must be a group's link allowing ``rollback``; the rollback is
        :func:`registrar.rollback_service.prepare` then :func:`~registrar.rollback_service.execute`, as the
        recipient, with the form's reason and target. A refusal of ``prepare`` (no champion, no such target, a
        target never Approved, already rolled back) writes nothing and leaves the link unused (409); otherwise the
        link is consumed before the first write, and a refusal of ``execute`` (the champion or the target changed
        meanwhile) says what was written (409, the link spent).
        """
        if body is None or len(body) > MAX_FORM_BYTES:
            return TOO_LARGE
        if (content_type or "").split(";")[0].strip().lower() != FORM_TYPE:
            return UNSUPPORTED
        try:
            form = _form(body)
            capability = self._capability(form.get("token"))
            if capability.kind != "group" or not capability.allows("rollback"):
                raise _RefusedError(f"rollback: the link is a {capability.kind}'s for {', '.join(capability.actions)}")
            group = self._group(capability)
        except _RefusedError as refused:
            self.log(refused.reason)
            return REFUSED
        to = (form.get("to") or "").strip().removeprefix("v")
        if not to.isascii() or not to.isdigit() or len(to) > 10:
            return problem(400, "Version not chosen", "Choose the version to restore, then send the form again.")
        try:
            request = RollbackRequest(
                group=group, to=int(to), by=capability.recipient, reason=(form.get("reason") or "").strip()
            )
        except ValidationError as error:
            member = str(error.errors(include_url=False)[0]["loc"][0])
            messages = {
                "to": "Choose the version to restore, then send the form again.",
                "by": "The link's address cannot be recorded as who decided: roll back with `registrar rollback`.",
            }
            default = f"Write the reason on one line, at most {MAX_REASON} characters, then send the form again."
            return problem(400, "Rollback not accepted", messages.get(member, default))
        now = self.clock().replace(microsecond=0)
        try:
            prepared = rollback_service.prepare(request, registry=self.registry, clock=lambda: now)
        except RollbackRefusedError as error:
            return Page(409, render("not_rolled_back.html", group=group, reason=str(error), spent=False))
        if prepared.decided is None:  # rolled back already: nothing to write, nothing spent
            reason = (prepared.finished or [])[0].reasons[-1] if prepared.finished else "nothing to write"
            return Page(409, render("not_rolled_back.html", group=group, reason=reason, spent=False))
        if not self.ledger.consume(capability, used_by_action="rollback", at=now):
            self.log("used already (lost a race to another use)")
            return REFUSED
        try:
            list(rollback_service.execute(prepared, registry=self.registry, announcer=self.announcer))
        except RollbackRefusedError as error:
            return Page(409, render("not_rolled_back.html", group=group, reason=str(error), spent=True))
        champion = story(self.registry.describe(prepared.champion.ModelPackageArn))
        target = story(self.registry.describe(prepared.target.ModelPackageArn))
        return Page(
            200,
            render(
                "rolled_back.html",
                group=group,
                champion=champion,
                target=target,
                recipient=capability.recipient,
                reason=prepared.decided.reason,
            ),
        )

    def _group(self, capability: links.Capability) -> str:
        """The group a link shows: a group's link's own, or a version's link's version's (if it would open)."""
        if capability.model_package_group is None:
            package = self._package(capability)
            if not package.ModelPackageGroupName:
                raise _RefusedError("the version names no group")
            return package.ModelPackageGroupName
        group = capability.model_package_group
        if self.managed_groups and first_match(group, self.managed_groups) is None:
            raise _RefusedError(f"group {group} is not among the managed groups ({', '.join(self.managed_groups)})")
        if self.ledger.used(capability) is not None:
            raise _RefusedError("used already")
        return group

    def _capability(self, token: str | None) -> links.Capability:
        if not token:
            raise _RefusedError("no token")
        try:
            return links.verify(token, self.keys(), now=self.clock())
        except links.LinkRefusedError as error:
            raise _RefusedError(error.reason) from None

    def _package(self, capability: links.Capability) -> ModelPackage:
        """The capability's version, if its group is managed, the link unused, and the version still exists."""
        if capability.model_package_arn is None:
            raise _RefusedError(f"a {capability.kind}'s link, not a version's")
        unmanaged = unmanaged_reason(capability.model_package_arn, self.managed_groups)
        if unmanaged is not None:
            raise _RefusedError(unmanaged)
        if self.ledger.used(capability) is not None:
            raise _RefusedError("used already")
        try:
            package = self.registry.describe(capability.model_package_arn)
        except Exception as error:
            if aws.error_code(error) in ("ValidationException", "ResourceNotFound"):  # deleted since the link
                raise _RefusedError(f"the version cannot be described: {aws.error_code(error)}") from None
            raise
        return package


def body_bytes(body: str | None, *, base64_encoded: bool) -> bytes | None:
    """The bytes of a function URL request's body; ``None`` when too large for a form (checked before decoding)."""
    if not body:
        return b""
    if len(body) > (MAX_FORM_BYTES + 2) // 3 * 4:  # longer than the largest form would be, even in base64
        return None
    if not base64_encoded:
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except ValueError:  # binascii.Error: no form can be read from it, so it carries no token either
        return b""


def _form(raw: bytes) -> dict[str, str]:
    """The form's fields, each given at most once; a field given twice or undecodable refuses the request."""
    try:
        text = raw.decode("ascii")  # a browser percent-encodes every other byte
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, strict_parsing=False, max_num_fields=8)
    except (UnicodeDecodeError, ValueError):
        raise _RefusedError("a form that is not URL-encoded ASCII") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise _RefusedError(f"the field {name[:20]!r} given twice")
        fields[name] = value
    return fields


def deployed(settings: Settings, *, log: Callable[[str], None] = lambda _reason: None) -> DecisionPage:
    """The page as a deployment runs it: SageMaker, the default bus, the signing secret, the table's ledger."""
    from registrar.decisions.announce import announcer_for
    from registrar.registry import Registry

    if settings.table_name is None:
        if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
            # In Lambda, a link used in one container could be used again in another: refuse to serve at all.
            raise ConfigurationError("the decision page needs REGISTRAR_TABLE_NAME in Lambda: links are single-use")
        ledger: links.UsedLinks = links.MemoryLinkLedger()  # a local run without a table: single use per process
    else:
        ledger = links.LinkLedger(settings.table_name)
    return DecisionPage(
        registry=Registry(),
        announcer=announcer_for(settings),
        keys=lambda: links.load_signing_keys(settings.signing_secret),
        ledger=ledger,
        managed_groups=settings.managed_groups,
        log=log,
    )
