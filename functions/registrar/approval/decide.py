"""decide: package + evidence + policy -> Decision, and Decision -> the desired PackageUpdate. Pure, no AWS.

The safety rules live here:

1. Never approve without evidence: every condition must hold on a finite number read from a usable
   report; anything else (no report, unreadable, not JSON, a missing/NaN/infinite/boolean/string
   metric, a failed or stopped job) follows the rule's ``on_failure``.
2. A human's decision stands: only ``PendingManualApproval`` versions are decided unless the rule
   sets ``redecide: true``.
3. Every decision explains itself: ``ApprovalDescription`` and ``registrar:*`` metadata. A verdict whose
   record (verdict, policy, evidence, decided-by) the 50-entry metadata budget cannot hold is held instead:
   a status written without it would read as a human's decision to every later event.
"""

from __future__ import annotations

import unicodedata
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from registrar.approval.evidence import (
    MAX_METADATA_VALUE,
    REGISTRAR_EVIDENCE_KEY,
    REGISTRAR_EVIDENCE_VERSION_KEY,
    Evidence,
    metric_value,
)
from registrar.approval.policy import BeatChampion, Condition, MatchedRule, Policy, Rule
from registrar.constrained import LINE_TERMINATORS
from registrar.package import MAX_METADATA_ENTRIES, ModelPackage
from registrar.plan import metadata_record
from registrar.updates import PackageUpdate

Verdict = Literal["Approved", "Rejected", "Held"]
DecisionKind = Literal["decided", "skipped", "unchanged"]

PREFIX = "registrar:"
VERDICT_KEY = "registrar:verdict"
POLICY_KEY = "registrar:policy"
EVIDENCE_KEY = REGISTRAR_EVIDENCE_KEY
EVIDENCE_VERSION_KEY = REGISTRAR_EVIDENCE_VERSION_KEY
# Why the last evidence offered for the version was refused (it did not belong to it); never part of a decision.
REFUSED_KEY = "registrar:refused"
DECIDED_BY_KEY = "registrar:decided-by"
METRIC_KEY_PREFIX = "registrar:metric:"
CHAMPION_KEY = "registrar:champion"
CHAMPION_METRIC_KEY_PREFIX = "registrar:champion:"
# The record of a decision, in the order the metadata budget keeps them; without all four, no status is written.
CORE_KEYS = (VERDICT_KEY, POLICY_KEY, EVIDENCE_KEY, EVIDENCE_VERSION_KEY, DECIDED_BY_KEY)
# registrar:evidence for a report URI metadata cannot hold verbatim: not a URI, so nothing ever reads it as one.
UNRECORDED_EVIDENCE = "not recorded: the report URI does not fit a metadata value"

MAX_DESCRIPTION = 1024
MAX_KEY = 128
MAX_VALUE = MAX_METADATA_VALUE
_METADATA_EXTRA_CHARS = frozenset("_.:/=+-@")
_HUMAN_DECISIONS = ("Approved", "Rejected")


class Check(BaseModel):
    """One condition (or the champion comparison) evaluated against the evidence.

    Attributes
    ----------
    label
        The metric's short name (``auc``).
    metric
        The JMESPath expression.
    value
        The finite number read, or ``None``.
    problem
        Why no usable number was read (``absent``, ``NaN``, ...), or ``None``.
    passed
        Whether the condition holds.
    text
        How the description states it: ``auc 0.81 < min 0.85``.
    min, max
        The condition's thresholds (``None`` for the champion comparison).
    champion_value, champion
        For the champion comparison: the champion's value and its ARN, when it had one to compare.
    """

    model_config = ConfigDict(frozen=True)

    label: str
    metric: str
    value: float | None = None
    problem: str | None = None
    passed: bool
    text: str
    min: float | None = None
    max: float | None = None
    champion_value: float | None = None
    champion: str | None = None


class Decision(BaseModel):
    """What the policy says about one package, before it is planned against the package.

    Attributes
    ----------
    model_package_arn
        The package decided.
    kind
        ``decided`` (a verdict to write), ``skipped`` (nothing to act on) or ``unchanged`` (registrar
        already decided this version and the decision stands).
    verdict
        ``Approved``, ``Rejected`` or ``Held`` when decided.
    reasons
        Why, in words an operator reads.
    policy_digest
        The digest of the policy decided with.
    rule_number
        The matching rule, 1-based, or ``None``.
    rule
        The matching rule, or ``None``.
    evidence_uri
        Where the report was read from, if known.
    checks
        Each condition (and the champion comparison) with its numbers.
    description
        The ``ApprovalDescription`` to write (at most 1024 characters).
    metadata
        The ``registrar:*`` CustomerMetadataProperties to write, already within the 50-entry budget.
    metadata_to_remove
        registrar's own keys from an earlier decision that this one does not write (stale metrics,
        or whatever the budget leaves out).
    """

    model_config = ConfigDict(frozen=True)

    model_package_arn: str
    kind: DecisionKind
    verdict: Verdict | None = None
    reasons: list[str] = Field(default_factory=list)
    policy_digest: str
    rule_number: int | None = None
    rule: Rule | None = None
    evidence_uri: str | None = None
    checks: list[Check] = Field(default_factory=list)
    description: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    metadata_to_remove: list[str] = Field(default_factory=list)


def _number(value: float) -> str:
    # repr-like but bounded: 0.1+0.2 reads 0.3, 0.91 stays 0.91, 1e-05 stays short.
    return format(value, ".12g")


def _package_name(arn: str | None) -> str:
    return (arn or "unknown").rsplit(":model-package/", 1)[-1]


def _skip(package: ModelPackage, policy: Policy, reason: str, kind: DecisionKind = "skipped") -> Decision:
    return Decision(model_package_arn=package.ModelPackageArn, kind=kind, reasons=[reason], policy_digest=policy.digest)


def precheck(package: ModelPackage, policy: Policy) -> Decision | MatchedRule:
    """Whether the package is one to decide at all: the rule that decides it, or a skipped (or unchanged) Decision.

    Checked before any evidence is read, so unmatched groups and decided versions cost no S3 read.
    Whether the group is managed at all was read from the version's ARN before it was described
    (:func:`registrar.groups.unmanaged_reason`).

    Parameters
    ----------
    package
        The package as DescribeModelPackage returned it.
    policy
        The approval policy.

    Returns
    -------
    Decision or MatchedRule
        The matching rule when the package is to be decided; otherwise a Decision saying why not.
    """
    if package.ModelPackageStatus != "Completed":
        return _skip(package, policy, f"package is {package.ModelPackageStatus or 'without a status'}, not Completed")
    group = package.ModelPackageGroupName
    if not group:
        return _skip(package, policy, "package belongs to no model package group; registrar decides versions only")
    matched = policy.match(group)
    if matched is None:
        return _skip(package, policy, f"group {group} matches no rule of policy {policy.digest}; nothing written")
    status = package.ModelApprovalStatus
    if status == "PendingManualApproval" or (status in _HUMAN_DECISIONS and matched.rule.redecide):
        return matched
    if status in _HUMAN_DECISIONS:
        metadata = package.CustomerMetadataProperties
        if metadata.get(VERDICT_KEY) == status:
            return _skip(
                package,
                policy,
                f"already {status} by registrar (policy {metadata.get(POLICY_KEY, 'unknown')}); "
                f"rule {matched.number} does not set redecide: true, so the decision stands",
                kind="unchanged",
            )
        return _skip(
            package,
            policy,
            f"already {status} by a human; rule {matched.number} does not set redecide: true, "
            "so the human's decision stands",
        )
    return _skip(package, policy, f"approval status {status or 'unset'} is not one registrar decides")


def _condition_check(condition: Condition, report: Any) -> Check:
    label = condition.label
    value, problem = metric_value(report, condition.metric)
    bounds = {"min": condition.min, "max": condition.max}
    if value is None:
        return Check(
            label=label, metric=condition.metric, problem=problem, passed=False, text=f"{label} is {problem}", **bounds
        )
    shown = f"{label} {_number(value)}"
    if condition.min is not None and value < condition.min:
        text = f"{shown} < min {_number(condition.min)}"
    elif condition.max is not None and value > condition.max:
        text = f"{shown} > max {_number(condition.max)}"
    else:
        held = []
        if condition.min is not None:
            held.append(f"≥ min {_number(condition.min)}")
        if condition.max is not None:
            held.append(f"≤ max {_number(condition.max)}")
        text = f"{shown} {' and '.join(held)}"
    return Check(label=label, metric=condition.metric, value=value, passed=condition.holds(value), text=text, **bounds)


def _champion_check(
    rule: BeatChampion, report: Any, champion: Evidence | None, group: str
) -> tuple[Check, Check | None]:
    """The comparison with the champion (value/problem: the candidate's reading), and the champion's reading."""
    label = rule.label
    if champion is None:
        text = f"no champion (no other Approved version of {group}), so nothing to beat"
        return Check(label=label, metric=rule.metric, passed=True, text=text), None
    name = _package_name(champion.subject)
    ours, our_problem = metric_value(report, rule.metric)

    def failed(text: str, theirs: float | None = None) -> Check:
        return Check(
            label=label,
            metric=rule.metric,
            value=ours,
            problem=our_problem,
            passed=False,
            text=text,
            champion_value=theirs,
            champion=champion.subject if champion is not None else None,
        )

    if not champion.usable:
        return failed(f"champion {name} cannot be compared: {champion.problem or 'its report is unusable'}"), None
    theirs, their_problem = metric_value(champion.report, rule.metric)
    their_reading = Check(
        label=label,
        metric=rule.metric,
        value=theirs,
        problem=their_problem,
        passed=theirs is not None,
        text=f"champion {name} {label} {_number(theirs) if theirs is not None else their_problem}",
    )
    if theirs is None:
        return failed(f"champion {name} cannot be compared: its {label} is {their_problem}"), their_reading
    if ours is None:
        return failed(f"{label} is {our_problem}, so it cannot beat champion {name}", theirs), their_reading
    beaten = rule.beaten(ours, theirs)
    if rule.higher_is_better:
        relation, sign = ("≥" if beaten else "<"), "+"
    else:
        relation, sign = ("≤" if beaten else ">"), "−"
    margin = f" {sign} {_number(rule.by)}" if rule.by else ""
    verb = "beats" if beaten else "does not beat"
    text = f"{label} {_number(ours)} {relation} champion {name} {_number(theirs)}{margin} ({verb} the champion)"
    comparison = Check(
        label=label,
        metric=rule.metric,
        value=ours,
        passed=beaten,
        text=text,
        champion_value=theirs,
        champion=champion.subject,
    )
    return comparison, their_reading


def decide(
    package: ModelPackage, evidence: Evidence, policy: Policy, matched: MatchedRule, champion: Evidence | None
) -> Decision:
    """Decide one package from its evidence and the policy's matching rule. Pure: no AWS, no clock.

    Long because it states, in order, every way a verdict is reached and explained; each step is one
    of the safety rules in the module docstring.

    Parameters
    ----------
    package
        The package as DescribeModelPackage returned it (never values from the event), one that
        :func:`precheck` found to decide.
    evidence
        The candidate's report (or why there is none).
    policy
        The approval policy (its digest is recorded).
    matched
        The rule :func:`precheck` matched to the package's group.
    champion
        The champion's report when the matching rule has ``beat_champion`` and the group has another
        Approved version; ``None`` means there is no champion (the comparison passes, saying so).

    Returns
    -------
    Decision
        ``decided``, with the verdict, the checks, the description and the metadata to write. When
        other entries leave no room for the four entries of registrar's record, the verdict is
        ``Held`` and the description says so first.
    """
    group = package.ModelPackageGroupName or ""
    number, rule = matched
    reasons = [f"group {group} matches rule {number} ({', '.join(rule.groups)}) of policy {policy.digest}"]
    checks: list[Check] = []
    champion_reading: Check | None = None
    compared = False
    blocked = evidence.blocked or (champion.blocked if champion is not None else None)
    if blocked is not None:
        body = f"registrar may not read its evidence: {blocked}"
        reasons.append(body)
        passed = False
    elif not evidence.usable:
        problem = evidence.problem or f"evaluation job is {evidence.job_status}"
        body = f"no usable evidence: {problem}"
        reasons.append(body)
        passed = False
    else:
        checks = [_condition_check(condition, evidence.report) for condition in rule.approve_when]
        if rule.beat_champion is not None:
            comparison, champion_reading = _champion_check(rule.beat_champion, evidence.report, champion, group)
            checks.append(comparison)
            compared = True
        body = "; ".join(check.text for check in checks)
        reasons.extend(check.text for check in checks)
        passed = all(check.passed for check in checks)
    earned: Verdict = "Approved" if passed else ("Rejected" if rule.on_failure == "reject" else "Held")
    if blocked is not None:
        # The deployment's mistake is not the model's: no verdict until the event is redriven after the fix.
        earned = "Held"
        reasons.append("held whatever the rule says, until the deployment lets registrar read its evidence")
    elif earned == "Held":
        reasons.append("on_failure is hold: ModelApprovalStatus is left as it is for a human to decide")
    elif earned == "Rejected":
        reasons.append("on_failure is reject")
    verdict = earned
    others = _entries_of_others(package)
    if others + len(CORE_KEYS) > MAX_METADATA_ENTRIES:
        # A status written without its record reads as a human's decision to every later event (precheck).
        shortage = (
            f"metadata budget: {others} of {MAX_METADATA_ENTRIES} entries are used by others; "
            f"registrar needs {len(CORE_KEYS)} to record its decision"
        )
        if earned != "Held":
            shortage += f", so it holds instead of writing {earned} without that record"
            reasons.append(f"{shortage}: ModelApprovalStatus is left as it is for a human to decide")
        else:
            reasons.append(shortage)
        body = f"{shortage}; {body}"
        verdict = "Held"
    description = approval_description(verdict, body, policy.digest)
    metadata, removals, notes = _metadata(
        package,
        verdict=verdict,
        policy=policy,
        evidence_uri=evidence.uri,
        evidence_version=evidence.version,
        # '*' is not allowed in metadata values; "churn-..." reads as the pattern it stands for.
        decided_by=f"rule {number}: {' '.join(pattern.replace('*', '...') for pattern in rule.groups)}",
        readings=[check for check in checks if check.value is not None or check.problem is not None],
        champion=(compared, champion.subject if champion is not None else None, champion_reading),
    )
    reasons.extend(notes)
    return Decision(
        model_package_arn=package.ModelPackageArn,
        kind="decided",
        verdict=verdict,
        reasons=reasons,
        policy_digest=policy.digest,
        rule_number=number,
        rule=rule,
        evidence_uri=evidence.uri,
        checks=checks,
        description=description,
        metadata=metadata,
        metadata_to_remove=removals,
    )


def _one_line(text: str) -> str:
    # ApprovalDescription's pattern is `.*`: LINE_TERMINATORS is what it refuses (U+2028/U+2029 are not
    # category C); other control characters read badly too.
    return "".join(" " if char in LINE_TERMINATORS or unicodedata.category(char)[0] == "C" else char for char in text)


def approval_description(verdict: Verdict, body: str, digest: str) -> str:
    """``registrar: Rejected — auc 0.81 < min 0.85; recall 0.71 ≥ min 0.6 (policy 3f2a9c1)``.

    At most 1024 characters: a long body is cut and ends with an ellipsis, keeping the verdict and
    the policy digest.
    """
    head = f"registrar: {verdict} — "
    tail = f" (policy {digest})"
    body = _one_line(body)
    room = MAX_DESCRIPTION - len(head) - len(tail)
    if len(body) > room:
        body = body[: room - 1].rstrip() + "…"
    return head + body + tail


def sanitise(text: str, limit: int) -> str:
    """Fit ``text`` to CustomerMetadataProperties' rules: allowed characters, 1 to ``limit`` long.

    Characters other than letters, numbers, spaces and ``_.:/=+-@`` become ``-``; a value longer
    than ``limit`` keeps its start and its end around ``...``.
    """
    cleaned = "".join(
        char if unicodedata.category(char)[0] in "LZN" or char in _METADATA_EXTRA_CHARS else "-" for char in text
    )
    if not cleaned:
        return "-"
    if len(cleaned) > limit:
        keep = limit - 3
        cleaned = cleaned[: keep - keep // 3] + "..." + cleaned[len(cleaned) - keep // 3 :]
    return cleaned


def _reading_value(check: Check) -> str:
    return _number(check.value) if check.value is not None else (check.problem or "unknown")


def _metric_keys(readings: list[Check], prefix: str) -> list[tuple[str, str]]:
    """``prefix + label`` for each distinct metric; a label two expressions share gets a numeric suffix."""
    entries: list[tuple[str, str]] = []
    by_metric: dict[str, str] = {}
    taken: set[str] = set()
    for check in readings:
        if check.metric in by_metric:
            continue
        stem = sanitise(check.label, MAX_KEY - len(prefix) - 4)
        key, n = prefix + stem, 1
        while key in taken:
            n += 1
            key = f"{prefix}{stem}-{n}"
        taken.add(key)
        by_metric[check.metric] = key
        entries.append((key, sanitise(_reading_value(check), MAX_VALUE)))
    return entries


def _metadata(
    package: ModelPackage,
    *,
    verdict: Verdict,
    policy: Policy,
    evidence_uri: str | None,
    evidence_version: str | None,
    decided_by: str,
    readings: list[Check],
    champion: tuple[bool, str | None, Check | None],
) -> tuple[dict[str, str], list[str], list[str]]:
    """The registrar:* entries to write, the stale ones to remove, and notes on what the budget left out.

    Priority when the 50-entry budget is short: verdict, policy, evidence and its version, decided-by,
    then metrics. registrar's own entries take no room from others: each is rewritten, removed or left
    out here (the record of a refusal, :data:`REFUSED_KEY`, is kept when the whole record fits beside it: it
    is history, not the decision).
    """
    evidence = _evidence_record(evidence_uri)
    version = (
        evidence_version if evidence_version and sanitise(evidence_version, MAX_VALUE) == evidence_version else None
    )
    core = [
        (VERDICT_KEY, verdict),
        (POLICY_KEY, policy.digest),
        (EVIDENCE_KEY, evidence),
        (EVIDENCE_VERSION_KEY, version if evidence != UNRECORDED_EVIDENCE and version else "none"),
        (DECIDED_BY_KEY, sanitise(decided_by, MAX_VALUE)),
    ]
    extra = _metric_keys(readings, METRIC_KEY_PREFIX)
    compared, champion_arn, champion_reading = champion
    if compared:
        extra.append((CHAMPION_KEY, sanitise(champion_arn or "none", MAX_VALUE)))
        if champion_reading is not None:
            extra.extend(_metric_keys([champion_reading], CHAMPION_METRIC_KEY_PREFIX))
    wanted = core + extra
    others = _entries_of_others(package)
    # The record of a refusal is history: kept while the decision's own record fits beside it, dropped otherwise.
    keep_refusal = REFUSED_KEY in package.CustomerMetadataProperties and (
        others + len(wanted) + 1 <= MAX_METADATA_ENTRIES
    )
    room = max(0, MAX_METADATA_ENTRIES - others - (1 if keep_refusal else 0))
    chosen = dict(wanted[:room])
    left_out = [key for key, _ in wanted[room:]]
    removals = sorted(
        key
        for key in package.CustomerMetadataProperties
        if _is_registrars(key) and key not in chosen and not (key == REFUSED_KEY and keep_refusal)
    )
    notes = []
    if evidence_uri is not None and evidence != evidence_uri:
        notes.append(
            f"{EVIDENCE_KEY} is {evidence!r}: the report URI {evidence_uri} has characters or a length "
            "a metadata value does not allow, and an altered URI would name another report"
        )
    if left_out:
        notes.append(
            f"metadata budget: {others} of {MAX_METADATA_ENTRIES} entries are used by others, "
            f"so {', '.join(left_out)} {'was' if len(left_out) == 1 else 'were'} not recorded"
        )
    return chosen, removals, notes


def _is_registrars(key: str) -> bool:
    """Whether ``key`` is one of the keys registrar's approval writes (and so may rewrite or remove)."""
    return key in CORE_KEYS or key == REFUSED_KEY or key.startswith(METRIC_KEY_PREFIX) or key.startswith(CHAMPION_KEY)


def _entries_of_others(package: ModelPackage) -> int:
    """How many of the package's metadata entries belong to someone else (other tools, people)."""
    return sum(1 for key in package.CustomerMetadataProperties if not _is_registrars(key))


def _evidence_record(evidence_uri: str | None) -> str:
    """``registrar:evidence``: the URI when metadata holds it verbatim, else a value no one reads as a URI."""
    if evidence_uri is None:
        return "none"
    if sanitise(evidence_uri, MAX_VALUE) != evidence_uri:
        return UNRECORDED_EVIDENCE
    return evidence_uri


def desired_update(decision: Decision, package: ModelPackage) -> PackageUpdate | None:
    """The UpdateModelPackage request a decision asks for (before planning), or ``None``.

    Approved and Rejected set ``ModelApprovalStatus``; Held leaves it. Every verdict writes the
    description and the ``registrar:*`` metadata; only an approval applies the rule's ``on_approval``.

    Parameters
    ----------
    decision
        The result of :func:`decide`.
    package
        The package decided (its ARN must be the decision's).

    Returns
    -------
    PackageUpdate or None
        ``None`` for skipped and unchanged decisions. Pass the result to :func:`registrar.plan.plan`.

    Raises
    ------
    InvalidUpdateError
        If the request breaks a rule of the API (the decision's ARN is not the package's, for one).
    """
    if decision.kind != "decided" or decision.verdict is None:
        return None
    request: dict[str, Any] = {"ModelPackageArn": decision.model_package_arn}
    if decision.verdict != "Held":
        request["ModelApprovalStatus"] = decision.verdict
    if decision.description is not None:
        request["ApprovalDescription"] = decision.description
    if decision.metadata:
        request["CustomerMetadataProperties"] = dict(decision.metadata)
    if decision.metadata_to_remove:
        request["CustomerMetadataPropertiesToRemove"] = list(decision.metadata_to_remove)
    on_approval = decision.rule.on_approval if decision.rule is not None else None
    if decision.verdict == "Approved" and on_approval is not None:
        cycle = on_approval.model_life_cycle
        if cycle is not None:
            request["ModelLifeCycle"] = {"Stage": cycle.stage, "StageStatus": cycle.stage_status}
            if cycle.stage_description is not None:
                request["ModelLifeCycle"]["StageDescription"] = cycle.stage_description
        if on_approval.model_card_status is not None:
            request["ModelCard"] = {"ModelCardStatus": on_approval.model_card_status}
    update = PackageUpdate(**request)
    update.check_against(package)
    return update


def refusal_update(package: ModelPackage, reason: str) -> PackageUpdate | None:
    """The request recording on ``package`` why evidence offered for it was refused (:data:`REFUSED_KEY`).

    Metadata only: no status, no description, no decision key. ``None`` when the package already records
    this refusal, or when other tools' entries leave no room for it (:func:`registrar.plan.metadata_record`).

    Parameters
    ----------
    package
        The version the evidence was offered for.
    reason
        Why it was refused (:func:`registrar.approval.evidence.unbound_reason`).
    """
    return metadata_record(package, REFUSED_KEY, sanitise(reason, MAX_VALUE))
