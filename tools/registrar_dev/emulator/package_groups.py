"""Model package groups shared with other accounts: their resource policies, and calls made from those accounts.

Departure corrected (docs/sagemaker.md#accounts-in-the-emulator), mixed into the emulator's SageMaker backend and
response handler (:mod:`registrar_dev.emulator.sagemaker`):

21. moto answers ``PutModelPackageGroupPolicy``, ``GetModelPackageGroupPolicy`` and
    ``DeleteModelPackageGroupPolicy`` with HTTP 500 (no handler), and takes ``ModelPackageGroupName`` as a name
    only: CreateModelPackage or DescribeModelPackageGroup given the group's ARN answer "does not exist", even in
    the group's own account. A workload account registers a version into a central registry by calling
    CreateModelPackage with the group's ARN, which the group's resource policy must allow
    ([sm-register-xaccount], [sm-ram-discover]). Now:

    - The three policy operations keep one policy per group ([api-put-policy]); the policy must be a JSON object
      with a ``Statement``. Getting or deleting a policy a group does not have is a ``ValidationException``
      (assumed: the API reference lists no error for them).
    - ``ModelPackageGroupName`` (CreateModelPackage, DescribeModelPackageGroup, ListModelPackages),
      ``ModelPackageName`` (DescribeModelPackage) and ``ModelPackageArn`` (UpdateModelPackage) may be an ARN of
      another account (same region). The call then acts in that account, when the group's policy allows the
      caller (:mod:`registrar_dev.emulator.policies`) ``sagemaker:<Operation>`` on the resource: the group's
      ARN for DescribeModelPackageGroup; the version's ARN (``.../model-package/<group>/<version>``, the version
      about to be created for CreateModelPackage) for the package operations; ``.../model-package/<group>/*``
      for ListModelPackages. Otherwise ``AccessDeniedException`` ("User: <caller> is not authorized to perform:
      sagemaker:CreateModelPackage on resource: <arn> because no resource-based policy allows the
      sagemaker:CreateModelPackage action", as IAM words a missing grant, with the emulator's reason).
      CreateModelPackage's request context carries ``sagemaker:ModelApprovalStatus`` (its ``ModelApprovalStatus``,
      absent when not given), so a policy's condition on it holds as in AWS ([sm-condition-keys]).
      A version created so belongs to the group's account (its ARN, its ``SageMaker Model Package State
      Change`` event on that account's bus), as in AWS.
    - A compilation job whose ``ModelPackageVersionArn`` is in another account reads that version (its first
      container gives the framework and the artifact's name); whether Neo requires the group's policy to allow
      the job's account anything is not documented, and the emulator checks nothing there.

Same-account calls are not checked against the group's policy: IAM is not emulated within an account.

[api-put-policy]: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_PutModelPackageGroupPolicy.html
[sm-register-xaccount]: https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry-version.html#model-registry-version-xaccount
[sm-ram-discover]: https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry-ram-discover.html
[sm-condition-keys]: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from moto.core.exceptions import AWSError
from moto.core.responses import ActionResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import ModelPackage, ModelPackageGroup, sagemaker_backends

from registrar_dev.emulator import accounts
from registrar_dev.emulator.policies import Caller, evaluate

# SageMaker's condition key on the approval status a request gives a model package (service authorization reference).
APPROVAL_STATUS_KEY = "sagemaker:ModelApprovalStatus"
# Operation -> the member naming the group or version it acts on.
ROUTED_MEMBERS = {
    "CreateModelPackage": "ModelPackageGroupName",
    "DescribeModelPackageGroup": "ModelPackageGroupName",
    "ListModelPackages": "ModelPackageGroupName",
    "DescribeModelPackage": "ModelPackageName",
    "UpdateModelPackage": "ModelPackageArn",
}
_SAGEMAKER_ARN = re.compile(
    r"arn:(aws[a-z-]*):sagemaker:([a-z0-9-]+):(\d{12}):(model-package-group|model-package)/(.+)"
)


def request_context(operation: str, get_param: Callable[[str], Any]) -> dict[str, str]:
    """The condition keys a SageMaker request carries besides the caller's, as far as the emulator evaluates them.

    CreateModelPackage: ``sagemaker:ModelApprovalStatus``, the request's ``ModelApprovalStatus`` when it gives one
    (absent otherwise), the service authorization reference's "model approval status with the model-package in
    the request". So a group policy conditioned on it (``StringEqualsIfExists`` ``PendingManualApproval``) refuses
    a version registered already ``Approved`` from another account, as AWS does.
    """
    if operation == "CreateModelPackage" and (status := get_param("ModelApprovalStatus")) is not None:
        return {APPROVAL_STATUS_KEY: str(status)}
    return {}


class SageMakerAccessDeniedError(AWSError):
    """SageMaker's ``AccessDeniedException``."""

    TYPE = "AccessDeniedException"


def parse_sagemaker_arn(value: str | None) -> tuple[str, str, str, str] | None:
    """``(region, account, resource type, resource id)`` of a model package (group) ARN, or ``None``."""
    match = _SAGEMAKER_ARN.fullmatch(value or "")
    return (match.group(2), match.group(3), match.group(4), match.group(5)) if match else None


class PackageGroupPoliciesBackend:
    """The model-package-group half of fix 21 (mixed in before moto's ``SageMakerModelBackend``)."""

    # Provided by moto's SageMakerModelBackend.
    account_id: str
    region_name: str
    model_package_groups: dict[str, ModelPackageGroup]
    model_packages: dict[str, ModelPackage]

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)  # type: ignore[call-arg]
        # Model package group name -> its resource policy (JSON text, as put).
        self.package_group_policies: dict[str, str] = {}

    def group_name(self, name_or_arn: str) -> str:
        """The group's name, from its name or from an ARN of this account (``.../model-package-group/<name>``)."""
        parsed = parse_sagemaker_arn(name_or_arn)
        if parsed is None:
            return name_or_arn
        _, account, _, name = parsed
        if account != self.account_id:
            raise ValidationError(f"ModelPackageGroup {name_or_arn} does not exist.")
        return name

    def _group(self, name: str) -> ModelPackageGroup:
        group = self.model_package_groups.get(name)
        if group is None:
            raise ValidationError(
                f"ModelPackageGroup arn:aws:sagemaker:{self.region_name}:{self.account_id}:"
                f"model-package-group/{name} does not exist."
            )
        return group

    def describe_model_package_group(self, model_package_group_name: str) -> ModelPackageGroup:
        """Describe a group given by name or ARN (moto takes a name only)."""
        return self._group(self.group_name(model_package_group_name))

    def put_model_package_group_policy(self, model_package_group_name: str, resource_policy: str) -> str:
        """Keep ``resource_policy`` as the group's policy (replacing any).

        Returns
        -------
        str
            The group's ARN.

        Raises
        ------
        moto.sagemaker.exceptions.ValidationError
            No such group, or the policy is not a JSON object with a ``Statement``.
        """
        group = self._group(model_package_group_name)
        try:
            document = json.loads(resource_policy)
        except (TypeError, ValueError) as error:
            raise ValidationError(f"The resource policy is not valid JSON: {error}") from error
        if not isinstance(document, dict) or "Statement" not in document:
            raise ValidationError("The resource policy must be a JSON object with a Statement.")
        self.package_group_policies[group.model_package_group_name] = resource_policy
        return str(group.arn)

    def get_model_package_group_policy(self, model_package_group_name: str) -> str:
        """The group's resource policy, as it was put."""
        group = self._group(model_package_group_name)
        policy = self.package_group_policies.get(group.model_package_group_name)
        if policy is None:
            raise ValidationError(f"ModelPackageGroup {group.arn} has no resource policy.")
        return policy

    def delete_model_package_group_policy(self, model_package_group_name: str) -> None:
        """Forget the group's resource policy."""
        group = self._group(model_package_group_name)
        if self.package_group_policies.pop(group.model_package_group_name, None) is None:
            raise ValidationError(f"ModelPackageGroup {group.arn} has no resource policy.")

    def next_version_arn(self, group_name: str) -> str:
        """The ARN the group's next version will have (moto numbers versions by counting them)."""
        count = sum(1 for package in self.model_packages.values() if package.model_package_group_name == group_name)
        return f"arn:aws:sagemaker:{self.region_name}:{self.account_id}:model-package/{group_name.lower()}/{count + 1}"

    def authorize(
        self, caller: Caller, operation: str, name_or_arn: str, context: Mapping[str, str] | None = None
    ) -> None:
        """Refuse a call from another account unless this account's group policy allows it (fix 21).

        Parameters
        ----------
        caller
            Who calls (of another account).
        operation
            The SageMaker operation, e.g. ``CreateModelPackage``.
        name_or_arn
            The ARN the request names: a group's, or a version's.
        context
            The request's own condition keys (:func:`request_context`), evaluated with the caller's.

        Raises
        ------
        SageMakerAccessDeniedError
            ``AccessDeniedException``: the group has no policy, or its policy does not allow
            ``sagemaker:<operation>`` to the caller.
        """
        parsed = parse_sagemaker_arn(name_or_arn)
        assert parsed is not None, "only ARNs name resources of another account"
        # A version's ARN holds its group's name in lower case.
        named = parsed[3].split("/")[0].lower()
        group = next((g for name, g in self.model_package_groups.items() if name.lower() == named), None)
        versions = f"arn:aws:sagemaker:{self.region_name}:{self.account_id}:model-package/{named}"
        if operation == "CreateModelPackage":
            resource = self.next_version_arn(group.model_package_group_name) if group else f"{versions}/1"
        elif operation == "ListModelPackages":
            resource = f"{versions}/*"
        else:
            resource = name_or_arn
        policy = self.package_group_policies.get(group.model_package_group_name) if group else None
        decision = evaluate(policy, caller, f"sagemaker:{operation}", resource, context)
        if not decision.allowed:
            action = f"sagemaker:{operation}"
            raise SageMakerAccessDeniedError(
                f"User: {caller.arn} is not authorized to perform: {action} on resource: {resource} because no "
                f"resource-based policy allows the {action} action (emulator: {decision.reason})"
            )


class PackageGroupPoliciesResponse:
    """The handler half of fix 21: the policy operations, and requests naming another account's resources.

    Mixed in before moto's ``SageMakerResponse``; its ``sagemaker_backend`` is the backend of the account that owns
    what the request names, once that account's group policy has allowed the caller.
    """

    # Provided by moto's BaseResponse.
    current_account: str
    region: str
    _get_param: Any
    _get_action: Any
    get_access_key: Any

    @property
    def sagemaker_backend(self) -> Any:
        """The backend of the account the request acts in (checked against its group's policy once)."""
        routed = getattr(self, "_routed_backend", None)
        if routed is None:
            routed = self._route()
            self._routed_backend = routed
        return routed

    def _route(self) -> Any:
        own: Any = sagemaker_backends[self.current_account][self.region]
        member = ROUTED_MEMBERS.get(self._get_action())
        value = self._get_param(member) if member else None
        parsed = parse_sagemaker_arn(value)
        if parsed is None or parsed[1] == self.current_account:
            return own
        region, account, _, _ = parsed
        if region != self.region:
            raise ValidationError(f"{value} is not in region {self.region}.")
        owner: Any = sagemaker_backends[account][region]  # the emulator's backend class (PackageGroupPoliciesBackend)
        caller = accounts.caller(self.get_access_key(), self.current_account, self.region)
        owner.authorize(caller, self._get_action(), value, request_context(self._get_action(), self._get_param))
        return owner

    def put_model_package_group_policy(self) -> ActionResult:
        """Answer PutModelPackageGroupPolicy."""
        arn = self.sagemaker_backend.put_model_package_group_policy(
            self._get_param("ModelPackageGroupName"), self._get_param("ResourcePolicy")
        )
        return ActionResult({"ModelPackageGroupArn": arn})

    def get_model_package_group_policy(self) -> ActionResult:
        """Answer GetModelPackageGroupPolicy."""
        policy = self.sagemaker_backend.get_model_package_group_policy(self._get_param("ModelPackageGroupName"))
        return ActionResult({"ResourcePolicy": policy})

    def delete_model_package_group_policy(self) -> ActionResult:
        """Answer DeleteModelPackageGroupPolicy."""
        self.sagemaker_backend.delete_model_package_group_policy(self._get_param("ModelPackageGroupName"))
        return ActionResult({})
