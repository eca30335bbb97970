"""The decision page: a function URL where an approver's personal link decides a held version, and its signing secret.

The page (``handlers.decision_page``) verifies a link's token with the keys in the signing secret, shows the
version on GET, and on POST decides it through registrar's own update path, consuming the link
(``link#<nonce>``) and staging and publishing the ``Registrar Decision`` (``decision#<ARN>``). Its role may
do that and nothing else. docs/deployment.md, "Approvers and the decision page".
"""

from __future__ import annotations

import json
from typing import Final, cast

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra import nag, permissions
from infra.config import RegistrarConfig
from infra.function import RegistrarFunction
from infra.names import DECISION_PAGE_HANDLER, ENV_MANAGED_GROUPS, ENV_SIGNING_SECRET, ENV_TABLE_NAME
from infra.shared import SharedResources
from registrar.decisions.journal import ID_PREFIX as JOURNAL_ID_PREFIX
from registrar.decisions.links import ID_PREFIX as LINK_ID_PREFIX

# What the page calls on the table: LinkLedger (put_item, get_item) and the decision journal (put, get, update,
# delete): on link#<nonce> and decision#<ARN> items only.
PAGE_TABLE_ACTIONS: Final = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
# The page answers people, a few at a time: a bound keeps a flood of requests (the URL is public) from using the
# account's concurrency, or SageMaker's API rate, that the flows need. Beyond it Lambda answers 429.
PAGE_RESERVED_CONCURRENCY: Final = 5
PAGE_TIMEOUT: Final = cdk.Duration.seconds(30)
# The first key's id in the generated secret; a rotation gives the next key its own (docs/deployment.md).
INITIAL_KEY_ID: Final = "initial"
# Secrets Manager's generator draws from letters and digits alone (punctuation excluded): 64 of them are valid
# standard base64 (a multiple of 4, no padding), which links.parse_signing_keys decodes into 48 key bytes,
# about 381 bits of entropy (64 x log2 62), above HMAC-SHA256's 256.
GENERATED_KEY_LENGTH: Final = 64
ROTATION_REASON: Final = (
    "The links' signing key is rotated by hand (docs/deployment.md, 'Approvers and the decision page'): a new "
    "version whose previous key is the current one, so links in flight keep verifying; a rotation Lambda would "
    "have to keep that two-key format, and the keys change rarely"
)


class SigningSecret(Construct):
    """The Secrets Manager secret holding the decision links' signing keys, generated at deployment, KMS-encrypted.

    The secret's value is the JSON :func:`registrar.decisions.links.parse_signing_keys` reads::

        {"current": {"id": "initial", "key": "<64 letters and digits: base64 of 48 bytes>"}, "previous": null}

    Secrets Manager generates a random string, or a flat JSON object with the string at one top-level key: it
    cannot put the string inside ``current``. So the key is generated into a seed secret of its own, and the
    signing secret's value is that JSON with a CloudFormation dynamic reference to the seed where the key goes:
    CloudFormation resolves it while deploying, and neither the template nor the cloud assembly ever holds the key.
    CloudFormation only writes the value when the template's text changes, so a rotation (a new version put by
    hand) survives every later deployment.

    Parameters
    ----------
    scope, construct_id
        Where the construct sits in the tree.
    secret_name
        The signing secret's name (``signing_secret`` in cdk.json).

    Attributes
    ----------
    secret, seed, key
        The signing secret, the seed secret its first key came from, and the KMS key encrypting both.
    """

    def __init__(self, scope: Construct, construct_id: str, *, secret_name: str) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="registrar decision links: signing secret encryption",
            enable_key_rotation=True,
            # The keys sign links that live days at most: nothing to keep once the stack is gone.
            removal_policy=cdk.RemovalPolicy.DESTROY,
            pending_window=cdk.Duration.days(7),
        )
        self.seed = secretsmanager.Secret(
            self,
            "Seed",
            description="registrar decision links: the first signing key, generated (copied into the signing secret)",
            encryption_key=self.key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=GENERATED_KEY_LENGTH, exclude_punctuation=True, include_space=False
            ),
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        key_reference = (
            self.seed.secret_value.unsafe_unwrap()
        )  # "{{resolve:secretsmanager:<seed ARN>:SecretString:::}}"
        placeholder = "@KEY@"
        document = json.dumps(
            {"current": {"id": INITIAL_KEY_ID, "key": placeholder}, "previous": None}, separators=(",", ":")
        )
        before, after = document.split(placeholder)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            secret_name=secret_name,
            description="registrar decision links: the HMAC keys that sign approvers' links (current and previous)",
            encryption_key=self.key,
            secret_string_value=cdk.SecretValue.unsafe_plain_text(cdk.Fn.join("", [before, key_reference, after])),
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        for secret in (self.seed, self.secret):
            nag.acknowledge(secret, "SMG4", ROTATION_REASON)


class DecisionPage(Construct):
    """The decision page's function, its public function URL and a role that decides managed versions only.

    The URL's auth type is ``NONE``: the people who open it have no AWS identity, and IAM auth would need
    SigV4-signed requests no mail client makes. The credential is the link's token, checked by the handler:
    HMAC-signed for one recipient, one version, named actions, expiring and single use. No CORS is configured:
    the page is a form posting to itself and loads nothing from elsewhere, so no other origin may read it.

    The role may describe and update the versions of the configured groups, read the signing secret (and
    decrypt it through Secrets Manager), read and write ``link#*`` and ``decision#*`` items of the state table,
    and publish ``Registrar Decision`` events: nothing else.

    Parameters
    ----------
    scope, construct_id
        Where the construct sits in the tree.
    shared
        The function code, dependencies layer and state table.
    config
        The deployment's configuration (groups, tracing, the signing secret's name).
    signing
        The signing secret.

    Attributes
    ----------
    handler
        The page function, its role and log group.
    url
        The function URL; ``url.url`` is the page's base address (``https://<id>.lambda-url.<region>.on.aws/``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: SharedResources,
        config: RegistrarConfig,
        signing: SigningSecret,
    ) -> None:
        super().__init__(scope, construct_id)
        self.handler = RegistrarFunction(
            self,
            "Handler",
            handler=DECISION_PAGE_HANDLER,
            description="The decision page: approvers' personal links approve or reject held model package versions",
            code=shared.code,
            layer=shared.layer,
            tracing=config.tracing,
            timeout=PAGE_TIMEOUT,
            environment={
                ENV_TABLE_NAME: shared.table.table_name,
                ENV_SIGNING_SECRET: signing.secret.secret_name,
                ENV_MANAGED_GROUPS: ",".join(config.model_package_groups),
                # The page carries the link's token: Powertools Tracer must not copy responses into X-Ray.
                "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
            },
        )
        function = cast(lambda_.CfnFunction, self.handler.function.node.default_child)
        function.reserved_concurrent_executions = PAGE_RESERVED_CONCURRENCY
        role = self.handler.role
        permissions.update_packages(role, config.model_package_groups)
        permissions.list_group_versions(role, config.model_package_groups)  # the group page, and a rollback
        permissions.read_secret(role, signing.secret.secret_arn, signing.key.key_arn)
        permissions.use_table(
            role, shared.table, "DecisionLinks", PAGE_TABLE_ACTIONS, [f"{LINK_ID_PREFIX}*", f"{JOURNAL_ID_PREFIX}*"]
        )
        permissions.put_decision_events(role)
        # auth NONE is deliberate, the token is the credential: see the class docstring.
        self.url = self.handler.function.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)
        cdk.CfnOutput(self, "Url", value=self.url.url, description="The decision page (approvers' links lead here)")
