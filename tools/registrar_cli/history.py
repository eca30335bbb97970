"""``registrar history GROUP``: every version of a group, newest first, and what became of each.

Cost: one ListModelPackages page (``--limit`` versions, at most 100) and one DescribeModelPackage per
version shown; nothing else. The reading is :func:`registrar.history.group_history` (the decision page's group
view reads the same); this module checks the arguments and writes the text.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict

from registrar.history import MAX_VERSIONS, GroupName, MetricRow, VersionStory, format_time, group_history
from registrar.history import GroupRegistry as HistoryRegistry
from registrar_cli.arguments import validated

DEFAULT_LIMIT = 20
MAX_LIMIT = MAX_VERSIONS  # ListModelPackages' MaxResults: one page


def _limit(value: int) -> int:
    if not 1 <= value <= MAX_LIMIT:
        raise ValueError(f"must be 1-{MAX_LIMIT} (one ListModelPackages page)")
    return value


class HistoryArguments(BaseModel):
    """``registrar history``'s arguments."""

    model_config = ConfigDict(frozen=True)

    group: GroupName
    limit: Annotated[int, AfterValidator(_limit)] = DEFAULT_LIMIT


def arguments(group: str, limit: int | None) -> HistoryArguments:
    """The arguments, checked; :class:`registrar_cli.arguments.InvalidArgumentError` names the one that is not."""
    values: dict[str, Any] = {"group": group}
    if limit is not None:
        values["limit"] = limit
    return validated(HistoryArguments, {"group": "GROUP", "limit": "--limit"}, **values)


def history(group: str, *, limit: int, registry: HistoryRegistry) -> list[VersionStory]:
    """The stories of the group's ``limit`` newest versions, newest first.

    Parameters
    ----------
    group
        The model package group.
    limit
        How many versions, 1-100 (one ListModelPackages page).
    registry
        Where the versions are read.
    """
    return group_history(group, limit=limit, registry=registry)


def text(group: str, stories: list[VersionStory]) -> list[str]:
    """The stories as an operator reads them: a block per version."""
    if not stories:
        return [f"{group}: no versions"]
    lines: list[str] = []
    for entry in stories:
        lines.extend(_block(group, entry))
        lines.append("")
    return lines[:-1]


def _when(entry: VersionStory) -> str:
    parts = []
    if entry.decided_at is not None:
        parts.append(f"decided {format_time(entry.decided_at)}")
    if entry.last_modified_at is not None:
        parts.append(f"modified {format_time(entry.last_modified_at)}")
    if entry.created_at is not None:
        parts.append(f"created {format_time(entry.created_at)}")
    return ", ".join(parts) or "unknown"


def _metric(row: MetricRow) -> str:
    bounds = []
    if row.min is not None:
        bounds.append(f"min {row.min:g}")
    if row.max is not None:
        bounds.append(f"max {row.max:g}")
    shown = f"{row.name} {row.reading}"
    if bounds:
        shown += f" ({', '.join(bounds)}: {'pass' if row.passed else 'FAIL'})"
    if row.champion_value is not None:
        shown += f" [champion {row.champion_value:g}]"
    return shown


def _block(group: str, entry: VersionStory) -> list[str]:
    version = f"v{entry.version}" if entry.version is not None else entry.model_package_arn
    head = f"{group} {version}  {entry.status or 'no status'}"
    if entry.package_status not in (None, "Completed"):
        head += f"  (package {entry.package_status})"
    decided = entry.decided_by.text
    if entry.rollback is not None:
        verb = "rolled back to" if entry.rollback.direction == "to" else "restored, replacing"
        decided += f"; {verb} v{entry.rollback.version} at {format_time(entry.rollback.at)}"
    rows = [
        ("decided by", decided),
        ("when", _when(entry)),
        ("description", entry.description or "-"),
    ]
    if entry.metrics:
        rows.append(("metrics", "; ".join(_metric(row) for row in entry.metrics)))
    if entry.champion:
        rows.append(("champion", entry.champion))
    if entry.specifications:
        rows.append(("specifications", ", ".join(entry.specifications)))
    rows.extend(("neo " + row.target, row.record) for row in entry.neo)
    rows.extend((f"{row.state} on", f"{row.endpoint}: {row.record}") for row in entry.deployments)
    width = max(len(label) for label, _ in rows)
    return [head] + [f"  {label.ljust(width)}  {value}" for label, value in rows]
