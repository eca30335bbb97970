"""The approval policy: which groups, which conditions, what to do on failure; validated with line numbers.

A policy is a YAML (or JSON) file. Loading composes the YAML node tree first, so a validation error
can name both the field path pydantic reports and the line the field sits on in the file. A valid
policy written as JSON (the form the stack deploys, see :func:`deployable_json`) is read with the
standard library instead, without importing PyYAML.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import pathlib
import re
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple, Self

import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from registrar import constrained as t
from registrar import groups
from registrar.errors import PolicyError

if TYPE_CHECKING:
    import yaml

SUPPORTED_VERSION = 1
DEFAULT_OUTPUT_NAME = "evaluation"
DEFAULT_EVALUATION_FILE = "evaluation.json"
MAX_POLICY_BYTES = 1024 * 1024
# How close to champion ± by counts as on the boundary: float rounding, never a real difference in a metric.
BOUNDARY_REL_TOL = 1e-9
BOUNDARY_ABS_TOL = 1e-12
_GROUP_PATTERN = re.compile(r"[a-zA-Z0-9*?\[\]!-]+")


@functools.lru_cache(maxsize=256)
def compile_expression(expression: str) -> Any:
    """Compile a JMESPath expression once per process (policies repeat the same few)."""
    return jmespath.compile(expression)


def _compiles(expression: str) -> str:
    try:
        compile_expression(expression)
    except JMESPathError as error:
        raise ValueError(f"not a valid JMESPath expression: {_jmespath_problem(error)}") from None
    return expression


def _jmespath_problem(error: JMESPathError) -> str:
    if type(error).__name__ == "IncompleteExpressionError":
        return "the expression is incomplete"
    reason = getattr(error, "message", None) or getattr(error, "msg", None) or type(error).__name__
    position = getattr(error, "lex_position", None)
    return f"{reason} at column {position + 1}" if isinstance(position, int) else str(reason)


def _group_pattern(pattern: str) -> str:
    if not _GROUP_PATTERN.fullmatch(pattern):
        raise ValueError(
            "must be a model package group name or fnmatch pattern: letters, digits, hyphens and * ? [ ] !"
        )
    return pattern


def _relative_file(path: str) -> str:
    segments = path.split("/")
    if path.startswith("/") or any(segment in {"", ".", ".."} for segment in segments):
        raise ValueError("must be a relative path inside the output, without empty, '.' or '..' segments")
    return path


Expression = Annotated[str, StringConstraints(min_length=1, max_length=1024), AfterValidator(_compiles)]
# strict: YAML's `true` or a quoted "0.8" is not silently taken for a number; NaN/inf are not thresholds.
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
GroupPattern = Annotated[str, StringConstraints(min_length=1, max_length=256), AfterValidator(_group_pattern)]
CardStatus = Literal["Draft", "PendingReview", "Approved", "Archived"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def metric_label(expression: str) -> str:
    """A short name for a metric: the last field of a plain field path, skipping a trailing ``value``.

    ``binary_classification_metrics.auc.value`` is ``auc``; an expression that is not a plain chain of
    fields (filters, indexes, pipes, functions) is its own label.
    """
    try:
        fields = _field_chain(compile_expression(expression).parsed)
    except JMESPathError:
        return expression
    while fields and fields[-1] == "value":
        fields.pop()
    return fields[-1] if fields else expression


def _field_chain(node: dict[str, Any]) -> list[str] | None:
    if node.get("type") == "field":
        return [str(node["value"])]
    if node.get("type") == "subexpression":
        chain: list[str] = []
        for child in node.get("children", []):
            part = _field_chain(child)
            if part is None:
                return None
            chain.extend(part)
        return chain
    return None


def _number(value: float) -> str:
    return format(value, ".12g")


class Condition(_Strict):
    """One condition of ``approve_when``: a metric read with JMESPath, within ``min`` and/or ``max`` (inclusive)."""

    metric: Expression
    min: Number | None = None
    max: Number | None = None

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        if self.min is None and self.max is None:
            raise ValueError("a condition needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {_number(self.min)} is greater than max {_number(self.max)}")
        return self

    @property
    def label(self) -> str:
        """The metric's short name (see :func:`metric_label`)."""
        return metric_label(self.metric)

    def holds(self, value: float) -> bool:
        """Whether a finite ``value`` lies within the bounds (both inclusive)."""
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def describe(self) -> str:
        """``auc (binary_classification_metrics.auc.value) ≥ 0.85``, in words."""
        bounds = []
        if self.min is not None:
            bounds.append(f"≥ {_number(self.min)}")
        if self.max is not None:
            bounds.append(f"≤ {_number(self.max)}")
        name = self.label if self.label == self.metric else f"{self.label} ({self.metric})"
        return f"{name} {' and '.join(bounds)}"


class BeatChampion(_Strict):
    """``beat_champion``: the candidate must beat the group's latest Approved version on one metric."""

    metric: Expression
    by: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0)] = 0.0
    higher_is_better: bool = Field(default=True, strict=True)

    @property
    def label(self) -> str:
        return metric_label(self.metric)

    def threshold(self, champion_value: float) -> float:
        """The value the candidate must reach (inclusive): champion ± ``by``."""
        return champion_value + self.by if self.higher_is_better else champion_value - self.by

    def beaten(self, candidate: float, champion: float) -> bool:
        """Whether ``candidate`` beats ``champion`` by at least ``by`` (inclusive).

        Parameters
        ----------
        candidate
            The candidate's finite value of the metric.
        champion
            The champion's finite value of the metric.

        Returns
        -------
        bool
            True when ``candidate`` reaches :meth:`threshold`; a candidate within float rounding of the
            threshold reaches it.
        """
        limit = self.threshold(champion)
        # champion ± by is computed in binary floating point: 0.3 - 0.1 is 0.19999999999999998, and a
        # candidate of exactly 0.2 must count as on the (inclusive) boundary, not beyond it.
        if math.isclose(candidate, limit, rel_tol=BOUNDARY_REL_TOL, abs_tol=BOUNDARY_ABS_TOL):
            return True
        return candidate > limit if self.higher_is_better else candidate < limit


def _single_line(text: str) -> str:
    if "\n" in text or "\r" in text:
        raise ValueError("must be a single line (the API's pattern is .{0,1024})")
    return text


class LifeCycleOnApproval(_Strict):
    """``on_approval.model_life_cycle``: the ModelLifeCycle written with an approval."""

    stage: t.EntityName
    stage_status: t.EntityName
    stage_description: Annotated[t.StageDescription, AfterValidator(_single_line)] | None = None


class OnApproval(_Strict):
    """``on_approval``: updates applied together with an approval, never with a rejection or a hold."""

    model_life_cycle: LifeCycleOnApproval | None = None
    model_card_status: CardStatus | None = None


class Evaluation(_Strict):
    """``evaluation``: where a processing job writes the report (output name and file within it)."""

    output_name: str = Field(default=DEFAULT_OUTPUT_NAME, min_length=1, max_length=256)
    file: Annotated[str, StringConstraints(min_length=1, max_length=512), AfterValidator(_relative_file)] = (
        DEFAULT_EVALUATION_FILE
    )


class Rule(_Strict):
    """One rule: the groups it covers, the conditions for approval and what happens otherwise."""

    groups: list[GroupPattern] = Field(min_length=1)
    approve_when: list[Condition] = Field(min_length=1)
    on_failure: Literal["reject", "hold"]
    on_approval: OnApproval | None = None
    beat_champion: BeatChampion | None = None
    redecide: bool = Field(default=False, strict=True)
    evaluation: Evaluation | None = None

    def matches(self, group: str) -> bool:
        """Whether ``group`` matches one of the rule's patterns (:func:`registrar.groups.matches`: ignoring case)."""
        return groups.first_match(group, self.groups) is not None

    @property
    def evaluation_output(self) -> Evaluation:
        """Where a processing job's report is read: the rule's ``evaluation`` or the defaults."""
        return self.evaluation or Evaluation()

    @property
    def evidence_from_jobs_only(self) -> bool:
        """A rule that names ``evaluation`` takes its evidence from processing jobs, not the package's report."""
        return self.evaluation is not None


class Policy(_Strict):
    """A validated approval policy (``version: 1``); the first rule whose groups match decides.

    Build it with :func:`parse_policy` or :func:`load_policy`, which report errors with line numbers.
    """

    version: Literal[1]
    rules: list[Rule] = Field(min_length=1)

    @functools.cached_property
    def digest(self) -> str:
        """First 7 hex digits of the SHA-256 of the canonical JSON of the validated policy.

        Comments, key order, quoting and defaults spelt out or left implicit do not change it.
        """
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:7]

    def match(self, group: str) -> MatchedRule | None:
        """The first rule matching ``group`` and its position (1-based, as people count), or ``None``."""
        for number, rule in enumerate(self.rules, start=1):
            if rule.matches(group):
                return MatchedRule(number, rule)
        return None


class MatchedRule(NamedTuple):
    """The rule of a policy that decides a group, and its position in the policy (1-based)."""

    number: int
    rule: Rule


def parse_policy(text: str, source: str = "<string>") -> Policy:
    """Parse and validate a policy from YAML or JSON text.

    Text that starts with ``{`` (after whitespace and a UTF-8 BOM) is first read as JSON, without
    importing PyYAML, which saves about 15 ms of a cold start. When it is not valid JSON, repeats a
    key or is not a valid policy, it is read as YAML like any other text, so the errors are the YAML
    route's, with their lines.

    Parameters
    ----------
    text
        The policy document.
    source
        The name used in error messages (a file path, an SSM parameter name).

    Returns
    -------
    Policy
        The validated policy.

    Raises
    ------
    PolicyError
        One line per problem, ``source:line: field.path: message``, e.g.
        ``policy.yaml:7: rules.0.approve_when.1.min: Input should be a valid number``.
    """
    return _parse(text, source)[0]


def _parse(text: str, source: str) -> tuple[Policy, dict[str, Any]]:
    """:func:`parse_policy`, also returning the document the policy was validated from."""
    unmarked = text.removeprefix("\ufeff")
    if unmarked.lstrip(" \t\r\n").startswith("{"):
        parsed = _parse_json(unmarked)
        if parsed is not None:
            return parsed
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)  # libyaml when the wheel has it: ~10x faster
    try:
        root = loader.get_single_node()
        if root is None:
            raise PolicyError(f"{source}: the policy is empty; it needs version: 1 and at least one rule")
        _refuse_duplicate_keys(root, source)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise PolicyError(f"{where}: not valid YAML: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise PolicyError(f"{source}: not valid YAML: {error}") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise PolicyError(
            f"{source}:{root.start_mark.line + 1}: the policy must be a mapping with version and rules, "
            f"not {type(data).__name__}"
        )
    try:
        return Policy.model_validate(data), data
    except ValidationError as error:
        raise PolicyError(_render_errors(error, root, source)) from None


def _parse_json(text: str) -> tuple[Policy, dict[str, Any]] | None:
    """The policy in JSON text, or ``None`` when the text is not a valid policy in JSON.

    ``None`` sends the text to the YAML route, which alone knows the lines its errors are on.
    """
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    try:
        return Policy.model_validate(data), data
    except ValidationError:
        return None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        raise ValueError("a repeated key")  # json would keep the last silently
    return data


def _read(path: str | pathlib.Path) -> str:
    file = pathlib.Path(path)
    try:
        data = file.read_bytes()
    except OSError as error:
        raise PolicyError(f"{path}: cannot read the policy file: {error.strerror or error}") from None
    if len(data) > MAX_POLICY_BYTES:
        raise PolicyError(f"{path}: the policy file is larger than {MAX_POLICY_BYTES} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: the policy file is not UTF-8 text") from None


def load_policy(path: str | pathlib.Path) -> Policy:
    """Read and validate the policy file at ``path``.

    Raises
    ------
    PolicyError
        When the file cannot be read, is larger than 1 MiB, or is not a valid policy (see :func:`parse_policy`).
    """
    return parse_policy(_read(path), source=str(path))


def deployable_json(path: str | pathlib.Path) -> str:
    """The policy file at ``path``, validated, as the compact JSON text the stack deploys.

    The document is rendered as written (comments dropped, defaults left implicit, no whitespace:
    an SSM standard parameter holds 4 KB), and :func:`parse_policy` reads it back, without PyYAML,
    as the same policy: the same digest.

    Raises
    ------
    PolicyError
        As :func:`load_policy`; also when a value has no JSON form (a YAML ``!!binary`` string) or the
        JSON would not read back as the same policy.
    """
    policy, data = _parse(_read(path), source=str(path))
    try:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as error:
        raise PolicyError(f"{path}: the policy cannot be written as JSON: {error}") from None
    # The functions read this text, not the file, and JSON is not quite YAML (1e-05 is a string to YAML 1.1).
    if parse_policy(text, source=f"{path} as JSON").digest != policy.digest:
        raise PolicyError(f"{path}: the policy reads differently once written as JSON")
    return text


def _refuse_duplicate_keys(root: yaml.Node, source: str) -> None:
    """A repeated key would silently replace the first (and could drop a condition): refuse it."""
    import yaml

    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:  # an alias: already checked
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: dict[str, int] = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                    if key_node.value in keys:
                        raise PolicyError(
                            f"{source}:{key_node.start_mark.line + 1}: key {key_node.value!r} repeats the key "
                            f"on line {keys[key_node.value]}"
                        )
                    keys[key_node.value] = key_node.start_mark.line + 1
                stack.extend((key_node, value_node))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _line_of(root: yaml.Node, loc: tuple[int | str, ...]) -> int:
    """The line of the deepest node of ``loc`` found in the tree (a mapping member's line is its key's)."""
    import yaml

    node = root
    line = root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == part:
                    line, node = key_node.start_mark.line + 1, value_node
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _render_errors(error: ValidationError, root: yaml.Node, source: str) -> str:
    lines = []
    for detail in error.errors(include_url=False):
        loc = tuple(detail["loc"])
        path = ".".join(str(part) for part in loc) or "policy"
        message = detail["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if detail["type"] == "extra_forbidden":
            message = "unknown key (not part of the policy format; see docs/policy.md)"
        lines.append(f"{source}:{_line_of(root, loc)}: {path}: {message}")
    return "\n".join(lines)


def describe_policy(policy: Policy) -> list[str]:
    """What the policy does, in plain words: a summary line, then one line per rule.

    For ``registrar policy check FILE``.
    """
    count = len(policy.rules)
    lines = [
        f"policy {policy.digest} (version {policy.version}): {count} rule{'s' if count != 1 else ''}, "
        "checked in order; the first rule whose groups match a package's group decides it; "
        "packages of other groups are left alone"
    ]
    for number, rule in enumerate(policy.rules, start=1):
        parts = [f"rule {number} (groups {', '.join(rule.groups)}): approve when "]
        parts.append(" and ".join(condition.describe() for condition in rule.approve_when))
        champion = rule.beat_champion
        if champion is not None:
            direction = "higher" if champion.higher_is_better else "lower"
            parts.append(
                f" and {champion.label} is at least {_number(champion.by)} {direction} than the champion's "
                "(the group's latest Approved version; none passes)"
            )
        verb = "reject" if rule.on_failure == "reject" else "hold for a human (status left PendingManualApproval)"
        parts.append(f"; otherwise {verb}")
        if rule.evidence_from_jobs_only:
            output = rule.evaluation_output
            parts.append(
                f". Evidence: {output.file} in output {output.output_name!r} of the processing job tagged "
                "registrar:model-package-arn (package events are not decided)"
            )
        else:
            parts.append(
                ". Evidence: the package's ModelMetrics.ModelQuality.Statistics report, or evaluation.json in "
                "output 'evaluation' of a processing job tagged registrar:model-package-arn"
            )
        if rule.on_approval is not None:
            effects = []
            cycle = rule.on_approval.model_life_cycle
            if cycle is not None:
                effects.append(f"model life cycle {cycle.stage}/{cycle.stage_status}")
            if rule.on_approval.model_card_status is not None:
                effects.append(f"model card status {rule.on_approval.model_card_status}")
            if effects:
                parts.append(f". On approval also set {' and '.join(effects)}")
        if rule.redecide:
            parts.append(". Re-decides versions already Approved or Rejected")
        else:
            parts.append(". Versions already Approved or Rejected are left as they are")
        lines.append("".join(parts) + ".")
    return lines
