"""``registrar rollback GROUP``: reject the champion and restore an older version, as a person, safely re-run.

The decision is :mod:`registrar.rollback`'s and the orchestration :mod:`registrar.rollback_service`'s (the
decision page's ``POST /rollback`` runs the same): it reads the group, re-reads before each write, writes
through the :class:`~registrar.decisions.announce.Announcer` (each write publishes its ``Registrar
Decision``, flow ``rollback``) and yields one :class:`~registrar.outcome.Outcome` per write. This module
checks the command's arguments.
"""

from __future__ import annotations

from typing import Any

from registrar.rollback import RollbackRequest
from registrar.rollback_service import RollbackRegistry, rollback
from registrar_cli.arguments import InvalidArgumentError, validated

__all__ = ["RollbackRegistry", "arguments", "rollback"]


def arguments(*, group: str, to: str | None, by: str, reason: str, force: bool) -> RollbackRequest:
    """The request, checked; :class:`~registrar_cli.arguments.InvalidArgumentError` names the argument that is not.

    ``to`` is a version number, ``3`` or ``v3``.
    """
    version: Any = to
    if to is not None:
        digits = to.strip().removeprefix("v")
        if not digits.isascii() or not digits.isdigit():
            raise InvalidArgumentError(f"--to {to!r}: not a version number (e.g. 3 or v3)")
        version = int(digits)
    return validated(
        RollbackRequest,
        {"group": "GROUP", "to": "--to", "by": "--by", "reason": "--reason", "force": "--force"},
        group=group,
        to=version,
        by=by,
        reason=reason,
        force=force,
    )
