"""What the decision page shows of a group: every version's story, newest first, and the rollback's choices. Pure.

The versions are one ListModelPackages page (:func:`registrar.history.group_versions`, at most
:data:`~registrar.history.MAX_VERSIONS`), each described once. The champion and the default target are the
rollback's own (:mod:`registrar.rollback`): the champion is the newest Approved version, the default target the
newest older version :func:`~registrar.rollback.default_target` picks.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from registrar.history import MAX_VERSIONS, VersionStory, story
from registrar.package import ModelPackage
from registrar.rollback import RollbackRefusedError, default_target


class GroupView(BaseModel):
    """A group as the page shows it.

    Attributes
    ----------
    group
        The model package group.
    stories
        Every version's story, newest first (:func:`registrar.history.story`).
    champion
        The version a rollback rejects (the newest Approved), if any.
    choices
        The versions older than the champion, newest first: what the rollback form offers.
    default_target
        The version the rollback restores unless another is chosen (:func:`registrar.rollback.default_target`).
    no_default
        Why there is no default target (the rollback logic's reason), when there is none.
    truncated
        Whether the group may hold more versions than the page shows (one ListModelPackages page).
    """

    model_config = ConfigDict(frozen=True)

    group: str
    stories: list[VersionStory]
    champion: VersionStory | None
    choices: list[VersionStory]
    default_target: int | None
    no_default: str | None
    truncated: bool

    @classmethod
    def of(cls, group: str, packages: list[ModelPackage]) -> GroupView:
        """The view of ``group`` from its versions as described, newest first."""
        position = next((i for i, p in enumerate(packages) if p.ModelApprovalStatus == "Approved"), None)
        champion = packages[position] if position is not None else None
        older = packages[position + 1 :] if position is not None else []
        target: int | None = None
        no_default: str | None = None
        if champion is not None:
            try:
                target = default_target(champion, older).ModelPackageVersion
            except RollbackRefusedError as error:
                no_default = str(error)
        return cls(
            group=group,
            stories=[story(package) for package in packages],
            champion=story(champion) if champion is not None else None,
            choices=[story(package) for package in older if package.ModelPackageVersion is not None],
            default_target=target,
            no_default=no_default,
            truncated=len(packages) >= MAX_VERSIONS,
        )
