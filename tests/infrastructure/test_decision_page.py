"""Approvers and the decision page: config keys, the page's function URL and role, the signing secret, the e-mails."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from moto.events.models import EventPattern

from infra.config import DEFAULT_SIGNING_SECRET, covers, load_config
from infra.decision_page import GENERATED_KEY_LENGTH, INITIAL_KEY_ID, PAGE_RESERVED_CONCURRENCY
from infra.names import (
    APPROVER_MAIL_HANDLER,
    CONTEXT_KEY,
    DECISION_PAGE_HANDLER,
    ENV_APPROVERS,
    ENV_DECISION_PAGE_URL,
    ENV_MAIL_FROM,
    ENV_SIGNING_SECRET,
    ENV_TABLE_NAME,
)
from registrar.decisions import links
from registrar.errors import ConfigurationError

from .conftest import ROOT, Synthesized, cdk_json_context, synthesize
from .test_config import MINIMAL

ACCOUNT = {"Ref": "AWS::AccountId"}


def invalid(**keys: Any) -> str:
    with pytest.raises(ConfigurationError) as raised:
        load_config({**MINIMAL, **keys}, root=ROOT)
    return str(raised.value)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(synthesized: Synthesized, handler: str) -> list[dict[str, Any]]:
    function_id, _ = synthesized.function(handler)
    return synthesized.role_statements(function_id)


def actions(synthesized: Synthesized, handler: str) -> set[str]:
    return {action for s in statements(synthesized, handler) for action in as_list(s["Action"])}


def by_sid(synthesized: Synthesized, handler: str) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in statements(synthesized, handler) if "Sid" in s}


# --- configuration ------------------------------------------------------------------------------------------------


def test_the_defaults_without_approvers_deploy_nothing_for_them() -> None:
    config = load_config(MINIMAL, root=ROOT)
    assert (config.approvers, config.sender, config.link_ttl_days) == (None, None, 7)
    assert config.approvers_notified_of == ["Held"]
    assert config.signing_secret == DEFAULT_SIGNING_SECRET == links.DEFAULT_SIGNING_SECRET


def test_a_list_of_approvers_decides_every_managed_group() -> None:
    config = load_config({**MINIMAL, "approvers": ["Lead@Example.com"], "sender": "example.com"}, root=ROOT)
    assert config.approvers_by_group == {"churn-*": ["Lead@Example.com"]}
    # AND a domain sender sends from registrar@<domain>
    assert config.from_address == "registrar@example.com"


def test_a_mapping_names_approvers_per_group_pattern_within_the_managed_groups() -> None:
    config = load_config(
        {
            **MINIMAL,
            "approvers": {"churn-eu-*": ["eu@example.com"], "churn-us": ["us@example.com"]},
            "sender": "r@x.io",
        },
        root=ROOT,
    )
    assert config.approvers_by_group == {"churn-eu-*": ["eu@example.com"], "churn-us": ["us@example.com"]}
    assert config.from_address == "r@x.io"


@pytest.mark.parametrize(
    ("managed", "pattern", "covered"),
    [
        ("churn-*", "churn-*", True),
        ("churn-*", "churn-eu-*", True),
        ("churn-*", "Churn-EU", True),
        ("churn-?", "churn-*", False),
        ("churn-?", "churn-a", True),
        ("credit-risk", "credit-*", False),
        ("churn-*", "fraud", False),
    ],
)
def test_a_group_pattern_is_covered_only_when_every_group_it_matches_is_managed(
    managed: str, pattern: str, covered: bool
) -> None:
    assert covers(managed, pattern) is covered


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"approvers": ["lead@example.com"]}, "sender: required when approvers are set"),
        ({"approvers": {"fraud-*": ["a@example.com"]}, "sender": "example.com"}, "'fraud-*' is not within"),
        ({"approvers": [], "sender": "example.com"}, "approvers: names no approver"),
        ({"approvers": {"churn-*": []}, "sender": "example.com"}, "'churn-*' names no approver"),
        ({"approvers": ["a@example.com", "A@EXAMPLE.com"], "sender": "example.com"}, "listed twice"),
        ({"approvers": ["not-an-address"], "sender": "example.com"}, "approvers[0]: 'not-an-address'"),
        ({"approvers": "a@example.com", "sender": "example.com"}, "approvers: must be a list"),
        ({"approvers": {"churn_*": ["a@example.com"]}, "sender": "example.com"}, "approvers.churn_*"),
        ({"approvers": ["a@example.com"], "sender": "not a domain"}, "sender: 'not a domain' is not an SES identity"),
        ({"link_ttl_days": 0}, "link_ttl_days"),
        ({"link_ttl_days": 31}, "link_ttl_days"),
        ({"approvers_notified_of": ["Approved"]}, "approvers_notified_of[0]"),
        ({"approvers_notified_of": []}, "approvers_notified_of"),
        ({"approvers_notified_of": ["Held", "Held"]}, "listed twice"),
        ({"signing_secret": "arn:aws:secretsmanager:x"}, "signing_secret"),
        ({"approver": ["a@example.com"]}, "approver: unknown key"),
        # An approver is recorded as who decided (person:<address>): an address that name cannot hold is refused
        ({"approvers": ["o'brien@example.com"], "sender": "example.com"}, "cannot be recorded as who decided"),
        ({"approvers": {"churn-*": ["x" * 60 + "@example.com"]}, "sender": "example.com"}, "at most 64"),
    ],
)
def test_an_invalid_approver_setting_is_named_with_its_rule(keys: dict[str, Any], message: str) -> None:
    assert message in invalid(**keys)


# --- the stack (cdk.json names one approver and a sender) ---------------------------------------------------------


def test_cdk_json_deploys_the_page_and_the_approver_emails(synthesized: Synthesized) -> None:
    assert synthesized.error is None
    handlers = set(synthesized.handlers().values())
    assert {DECISION_PAGE_HANDLER, APPROVER_MAIL_HANDLER} <= handlers


def test_without_approvers_neither_the_page_nor_the_secret_is_deployed(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    context = cdk_json_context()
    context[CONTEXT_KEY] = {k: v for k, v in context[CONTEXT_KEY].items() if k not in ("approvers", "sender", "notify")}
    bare = synthesize(tmp_path_factory.mktemp("no-approvers"), context)
    assert bare.error is None
    assert {DECISION_PAGE_HANDLER, APPROVER_MAIL_HANDLER}.isdisjoint(bare.handlers().values())
    assert bare.resources("AWS::SecretsManager::Secret") == {}
    assert bare.resources("AWS::Lambda::Url") == {}


def test_the_page_has_a_public_function_url_without_cors(synthesized: Synthesized) -> None:
    function_id, _ = synthesized.function(DECISION_PAGE_HANDLER)
    [url] = synthesized.properties("AWS::Lambda::Url").values()
    assert url["TargetFunctionArn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert url["AuthType"] == "NONE"
    assert "Cors" not in url
    # AND the resource policy lets anyone invoke it through the URL alone
    permissions = [
        p
        for p in synthesized.properties("AWS::Lambda::Permission").values()
        if p["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}
    ]
    assert {(p["Action"], p.get("FunctionUrlAuthType"), p.get("InvokedViaFunctionUrl")) for p in permissions} == {
        ("lambda:InvokeFunctionUrl", "NONE", None),
        ("lambda:InvokeFunction", None, True),
    }


def test_the_page_runs_with_bounded_concurrency_and_its_settings(synthesized: Synthesized) -> None:
    _, function = synthesized.function(DECISION_PAGE_HANDLER)
    assert function["ReservedConcurrentExecutions"] == PAGE_RESERVED_CONCURRENCY
    variables = function["Environment"]["Variables"]
    assert {ENV_TABLE_NAME, ENV_SIGNING_SECRET, "REGISTRAR_MANAGED_GROUPS"} <= set(variables)


def test_the_page_role_decides_managed_versions_reads_the_secret_and_its_items_only(synthesized: Synthesized) -> None:
    granted = actions(synthesized, DECISION_PAGE_HANDLER)
    assert {a for a in granted if not a.startswith(("logs:", "xray:"))} == {
        "sagemaker:DescribeModelPackage",
        "sagemaker:UpdateModelPackage",
        "sagemaker:ListModelPackages",  # the group page and its rollback list the managed groups' versions
        "secretsmanager:GetSecretValue",
        "kms:Decrypt",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "events:PutEvents",
    }
    sids = by_sid(synthesized, DECISION_PAGE_HANDLER)
    groups = synthesized.config.model_package_groups
    versions = [r["Fn::Sub"] for r in as_list(sids["UpdateManagedPackageVersions"]["Resource"])]
    assert all(
        any(f"model-package/{g.lower()}/*" in r or f"model-package/{g}/*" in r for g in groups) for r in versions
    )
    table = sids["DecisionLinks"]["Condition"]
    assert table["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] == ["link#*", "decision#*"]
    assert table["Null"] == {"dynamodb:LeadingKeys": "false"}
    assert sids["PutDecisionEvents"]["Condition"]["StringEquals"] == {
        "events:source": "registrar",
        "events:detail-type": "Registrar Decision",
    }


def test_both_roles_read_the_signing_secret_alone_and_decrypt_it_through_secrets_manager(
    synthesized: Synthesized,
) -> None:
    [secret_id] = [
        name
        for name, p in synthesized.properties("AWS::SecretsManager::Secret").items()
        if p.get("Name") == DEFAULT_SIGNING_SECRET
    ]
    for handler in (DECISION_PAGE_HANDLER, APPROVER_MAIL_HANDLER):
        sids = by_sid(synthesized, handler)
        assert sids["ReadSigningSecret"]["Action"] == "secretsmanager:GetSecretValue"
        assert sids["ReadSigningSecret"]["Resource"] == {"Ref": secret_id}
        decrypt = sids["DecryptSigningSecret"]
        assert decrypt["Action"] == "kms:Decrypt"
        assert decrypt["Condition"]["StringEquals"]["kms:EncryptionContext:SecretARN"] == {"Ref": secret_id}
        assert "kms:ViaService" in decrypt["Condition"]["StringEquals"]


def test_the_signing_secret_is_generated_in_the_links_format_and_encrypted(synthesized: Synthesized) -> None:
    secrets = synthesized.properties("AWS::SecretsManager::Secret")
    [(secret_id, secret)] = [(n, p) for n, p in secrets.items() if p.get("Name") == DEFAULT_SIGNING_SECRET]
    [(seed_id, seed)] = [(n, p) for n, p in secrets.items() if n != secret_id]
    # GIVEN the seed: 64 letters and digits, generated by Secrets Manager at deployment
    assert seed["GenerateSecretString"] == {
        "ExcludePunctuation": True,
        "IncludeSpace": False,
        "PasswordLength": GENERATED_KEY_LENGTH,
    }
    # WHEN the signing secret's value is rendered with a key as the generator makes one
    parts = secret["SecretString"]["Fn::Join"][1]
    assert parts[1] == {"Ref": seed_id}
    generated = "aZ09" * (GENERATED_KEY_LENGTH // 4)
    rendered = (
        parts[0].replace("{{resolve:secretsmanager:", "") + generated + parts[2].replace(":SecretString:::}}", "")
    )
    # THEN it is the JSON links.parse_signing_keys reads, the generated string its base64 key of 48 bytes
    keys = links.parse_signing_keys(rendered)
    assert keys.current.key_id == INITIAL_KEY_ID and keys.previous is None
    assert keys.current.secret == base64.b64decode(generated) and len(keys.current.secret) == 48
    # AND the template holds a reference to the key, never a key
    assert parts[0].endswith("{{resolve:secretsmanager:") and parts[2].startswith(":SecretString:::}}")
    # AND both are encrypted with the stack's customer managed key, which rotates
    keys_ids = {p["KmsKeyId"]["Fn::GetAtt"][0] for p in (seed, secret)}
    [key_id] = keys_ids
    assert synthesized.properties("AWS::KMS::Key")[key_id]["EnableKeyRotation"] is True


def test_rotation_is_acknowledged_as_a_manual_step(synthesized: Synthesized) -> None:
    from infra import nag

    found = nag.acknowledgements(synthesized.outdir)
    reasons = [
        reason
        for path, rules in found.items()
        if "DecisionLinks" in path
        for rule, reason in rules.items()
        if rule.endswith("SMG4")
    ]
    assert reasons and all("by hand" in reason for reason in reasons)


def mail_queue(synthesized: Synthesized) -> str:
    function_id, _ = synthesized.function(APPROVER_MAIL_HANDLER)
    [queue] = [
        p["EventSourceArn"]["Fn::GetAtt"][0]
        for p in synthesized.properties("AWS::Lambda::EventSourceMapping").values()
        if p["FunctionName"] == {"Ref": function_id}
    ]
    return queue


def test_one_rule_routes_the_accounts_held_decisions_to_the_mail_queue(synthesized: Synthesized) -> None:
    queue = mail_queue(synthesized)
    [(_, rule)] = [
        (n, p)
        for n, p in synthesized.properties("AWS::Events::Rule").items()
        if any(t["Arn"] == {"Fn::GetAtt": [queue, "Arn"]} for t in p.get("Targets", []))
    ]
    pattern = rule["EventPattern"]
    assert pattern == {
        "source": ["registrar"],
        "detail-type": ["Registrar Decision"],
        "detail": {"verdict": ["Held"]},
        "account": [ACCOUNT],
    }
    [target] = rule["Targets"]
    assert "DeadLetterConfig" in target
    matcher = EventPattern.load(json.dumps({k: v for k, v in pattern.items() if k != "account"}))

    def decision(verdict: str) -> dict[str, Any]:
        return {"source": "registrar", "detail-type": "Registrar Decision", "detail": {"verdict": verdict}}

    assert [matcher.matches_event(decision(v)) for v in ("Held", "Rejected", "Approved")] == [True, False, False]  # type: ignore[arg-type]


def test_the_mail_queue_has_a_dead_letter_queue_and_reports_partial_failures(synthesized: Synthesized) -> None:
    function_id, _ = synthesized.function(APPROVER_MAIL_HANDLER)
    [mapping] = [
        p
        for p in synthesized.properties("AWS::Lambda::EventSourceMapping").values()
        if p["FunctionName"] == {"Ref": function_id}
    ]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = synthesized.properties("AWS::SQS::Queue")[mail_queue(synthesized)]
    assert "deadLetterTargetArn" in queue["RedrivePolicy"]


def test_the_mail_function_knows_the_approvers_the_sender_and_the_page_url(synthesized: Synthesized) -> None:
    _, function = synthesized.function(APPROVER_MAIL_HANDLER)
    variables = function["Environment"]["Variables"]
    assert json.loads(variables[ENV_APPROVERS]) == synthesized.config.approvers_by_group
    assert variables[ENV_MAIL_FROM] == "registrar@example.com"
    [url_id] = synthesized.resources("AWS::Lambda::Url")
    assert variables[ENV_DECISION_PAGE_URL] == {"Fn::GetAtt": [url_id, "FunctionUrl"]}


def test_the_mail_role_sends_from_the_sender_identity_only_and_writes_its_mail_items(synthesized: Synthesized) -> None:
    granted = actions(synthesized, APPROVER_MAIL_HANDLER)
    # (the sqs: actions are the event source mapping's, on its own queue)
    assert {a for a in granted if not a.startswith(("logs:", "xray:", "sqs:"))} == {
        "ses:SendEmail",
        "secretsmanager:GetSecretValue",
        "kms:Decrypt",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }
    sids = by_sid(synthesized, APPROVER_MAIL_HANDLER)
    send = sids["SendApproverEmail"]
    assert send["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/registrar@example.com"
    }
    assert send["Condition"] == {"StringEquals": {"ses:FromAddress": "registrar@example.com"}}
    assert sids["SentMail"]["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] == ["mail#*"]


def test_a_domain_sender_is_the_identity_and_its_registrar_address_the_only_from(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    context = cdk_json_context()
    context[CONTEXT_KEY] = {
        **context[CONTEXT_KEY],
        "sender": "mail.example.org",
        "approvers_notified_of": ["Held", "Rejected"],
    }
    domain = synthesize(tmp_path_factory.mktemp("domain-sender"), context)
    assert domain.error is None
    send = by_sid(domain, APPROVER_MAIL_HANDLER)["SendApproverEmail"]
    assert re.search(r":identity/mail\.example\.org$", send["Resource"]["Fn::Sub"])
    assert send["Condition"]["StringEquals"]["ses:FromAddress"] == "registrar@mail.example.org"
    rules = [p["EventPattern"] for p in domain.properties("AWS::Events::Rule").values() if "EventPattern" in p]
    assert {"verdict": ["Held", "Rejected"]} in [r.get("detail") for r in rules]


def test_the_page_never_copies_a_response_into_x_ray(synthesized: Synthesized) -> None:
    # GIVEN the page function, traced like the others WHEN its environment is read
    # THEN Powertools Tracer is told not to capture responses: a page carries its link's token
    _, function = synthesized.function(DECISION_PAGE_HANDLER)
    assert function["Environment"]["Variables"]["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
