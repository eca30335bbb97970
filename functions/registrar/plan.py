"""plan: the smallest UpdateModelPackage request that brings a package to a desired state, or nothing."""

from __future__ import annotations

from typing import Any

from registrar.errors import InvalidUpdateError, Violation
from registrar.package import MAX_METADATA_ENTRIES, ModelPackage
from registrar.updates import PackageUpdate


def plan(desired: PackageUpdate, package: ModelPackage) -> PackageUpdate | None:
    """Diff a desired change against the package's current state.

    Long because it goes through the request member by member, each with the comparison its API
    semantics need (replace, merge, add-only), rather than a generic diff that would hide them.

    Members the package already has are dropped: the same approval status, the same description,
    metadata entries with the same value, metadata keys already absent, specifications whose name is
    already attached, and an identical life cycle, model card, source URI or inference specification.
    Planning the result again against the updated package yields ``None``.

    Parameters
    ----------
    desired
        The change a decision asks for (its ClientToken, if any, is ignored and derived again).
    package
        The package as DescribeModelPackage returned it.

    Returns
    -------
    PackageUpdate or None
        The minimal request, validated against the package and carrying its deterministic
        ClientToken, derived from the request and the state of ``package`` it was planned against
        (see :meth:`PackageUpdate.derive_client_token`); ``None`` when the package already is as
        desired.

    Raises
    ------
    InvalidUpdateError
        When the minimal request breaks a rule that depends on the package (see
        :meth:`PackageUpdate.check_against`).
    """
    if desired.ModelPackageArn != package.ModelPackageArn:
        raise InvalidUpdateError(
            [
                Violation(
                    "ModelPackageArn", desired.ModelPackageArn, f"must be the planned package {package.ModelPackageArn}"
                )
            ]
        )
    changes: dict[str, Any] = {}
    if desired.ModelApprovalStatus is not None and desired.ModelApprovalStatus != package.ModelApprovalStatus:
        changes["ModelApprovalStatus"] = desired.ModelApprovalStatus
    if desired.ApprovalDescription is not None and desired.ApprovalDescription != (package.ApprovalDescription or ""):
        changes["ApprovalDescription"] = desired.ApprovalDescription
    current_metadata = package.CustomerMetadataProperties
    metadata = {
        key: value
        for key, value in (desired.CustomerMetadataProperties or {}).items()
        if current_metadata.get(key) != value
    }
    if metadata:
        changes["CustomerMetadataProperties"] = metadata
    removals = [key for key in desired.CustomerMetadataPropertiesToRemove or [] if key in current_metadata]
    if removals:
        changes["CustomerMetadataPropertiesToRemove"] = removals
    attached = package.specification_names
    specifications = [
        spec.model_dump(exclude_none=True)
        for spec in desired.AdditionalInferenceSpecificationsToAdd or []
        if spec.Name not in attached
    ]
    if specifications:
        changes["AdditionalInferenceSpecificationsToAdd"] = specifications
    for member in ("ModelLifeCycle", "InferenceSpecification", "ModelCard"):
        wanted = getattr(desired, member)
        if wanted is not None and not _contains(getattr(package, member) or {}, wanted.model_dump(exclude_none=True)):
            changes[member] = wanted.model_dump(exclude_none=True)
    if desired.SourceUri is not None and desired.SourceUri != package.SourceUri:
        changes["SourceUri"] = desired.SourceUri
    if not changes:
        return None
    update = PackageUpdate(ModelPackageArn=desired.ModelPackageArn, **changes)
    update.check_against(package)
    return update.with_client_token(planned_against=package)


def _contains(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether every member of ``wanted`` is already present in ``current`` with the same value."""
    return all(current.get(key) == value for key, value in wanted.items())


def metadata_record(package: ModelPackage, key: str, value: str) -> PackageUpdate | None:
    """The request setting one ``CustomerMetadataProperties`` entry, or ``None`` when it is set already or has no room.

    A record registrar keeps beside its decisions (why evidence was refused, say): nothing else of the
    package changes, and a record never takes the last of the 50 entries' room from an entry it would
    have to replace.

    Raises
    ------
    InvalidUpdateError
        ``key`` or ``value`` break the metadata rules (sanitise them first).
    """
    metadata = package.CustomerMetadataProperties
    if metadata.get(key) == value:
        return None
    if key not in metadata and len(metadata) >= MAX_METADATA_ENTRIES:
        return None
    update = PackageUpdate(ModelPackageArn=package.ModelPackageArn, CustomerMetadataProperties={key: value})
    return update.with_client_token(planned_against=package)
