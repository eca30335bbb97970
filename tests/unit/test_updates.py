"""PackageUpdate: every rule of UpdateModelPackage is checked on construction, before any call.

Each rule of the CLI reference and of the service model (sagemaker-api-shapes.md §1, §6) is one row of
``RULES``: a value that is accepted and one that is refused, the field path the violation must name and
a fragment of the rule it must state. The rules that depend on the package's current state are
checked by ``check_against`` (tests at the end).
"""

from __future__ import annotations

import copy
import dataclasses
import re
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.validate import ParamValidator

from registrar import _shapes
from registrar.errors import InvalidUpdateError, RegistrarError
from registrar.updates import ContainerDefinition, PackageUpdate

ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3"
SPEC = "AdditionalInferenceSpecificationsToAdd.0"
CONTAINER = f"{SPEC}.Containers.0"
S3_SOURCE = f"{CONTAINER}.ModelDataSource.S3DataSource"
DELETE = object()  # a row value meaning "leave the member out"


@dataclass(frozen=True)
class Rule:
    """One rule: ``path`` set to ``accepted`` validates; set to ``refused`` is one violation at ``field``."""

    path: str
    accepted: Any
    refused: Any
    field: str
    rule: str
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)  # other members the request needs


def s3_source(**overrides: Any) -> dict[str, Any]:
    """A ModelDataSource with a valid S3DataSource, ``overrides`` applied to the S3DataSource."""
    source: dict[str, Any] = {
        "S3Uri": "s3://models/m/model.tar.gz",
        "S3DataType": "S3Object",
        "CompressionType": "Gzip",
    }
    source.update(overrides)
    return {"S3DataSource": {k: v for k, v in source.items() if v is not DELETE}}


def additional_s3(**overrides: Any) -> dict[str, Any]:
    source: dict[str, Any] = {
        "S3DataType": "S3Object",
        "S3Uri": "s3://models/extra/vocab.txt",
        "CompressionType": "None",
    }
    source.update(overrides)
    return {k: v for k, v in source.items() if v is not DELETE}


def minimal_specs(*names: str) -> list[dict[str, Any]]:
    return [{"Name": name, "Containers": [{"Image": "repo/image:1"}]} for name in names]


def arn_of_length(length: int) -> str:
    prefix = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/"
    return prefix + "9" * (length - len(prefix))


PRIMARY = {"Containers": [{"Image": "repo/image:1", "ModelDataUrl": "s3://models/m/model.tar.gz"}]}

RULES: dict[str, Rule | Any] = {
    # --- ModelPackageArn: required, an ARN (not a name), 1..2048
    "arn-required": Rule("ModelPackageArn", ARN, DELETE, "ModelPackageArn", "Field required"),
    "arn-not-a-name": Rule("ModelPackageArn", ARN, "churn", "ModelPackageArn", "not a name"),
    "arn-account-12-digits": Rule(
        "ModelPackageArn", ARN, ARN.replace("123456789012", "12345678901"), "ModelPackageArn", "must match"
    ),
    "arn-max-2048": Rule(
        "ModelPackageArn", arn_of_length(2048), arn_of_length(2049), "ModelPackageArn", "at most 2048 characters"
    ),
    # --- approval
    "approval-status-enum": Rule(
        "ModelApprovalStatus", "Approved", "approved", "ModelApprovalStatus", "'PendingManualApproval'"
    ),
    "approval-description-max-1024": Rule(
        "ApprovalDescription", "d" * 1024, "d" * 1025, "ApprovalDescription", "at most 1024 characters"
    ),
    # --- CustomerMetadataProperties: 1..50 entries, key 1..128, value 1..256, letters/numbers/spaces/_.:/=+-@
    "metadata-min-1-entry": Rule(
        "CustomerMetadataProperties", {"team": "ml"}, {}, "CustomerMetadataProperties", "at least 1 item"
    ),
    "metadata-max-50-entries": Rule(
        "CustomerMetadataProperties",
        {f"k{i}": "v" for i in range(50)},
        {f"k{i}": "v" for i in range(51)},
        "CustomerMetadataProperties",
        "at most 50 items",
    ),
    "metadata-key-max-128": Rule(
        "CustomerMetadataProperties",
        {"k" * 128: "v"},
        {"k" * 129: "v"},
        "CustomerMetadataProperties." + "k" * 39 + "…",  # long keys are cut in the path
        "at most 128 characters",
    ),
    "metadata-key-characters": Rule(
        "CustomerMetadataProperties",
        {"registrar:policy/sha=1+a@b_c.d-é 7": "v"},
        {"bad!key": "v"},
        "CustomerMetadataProperties.bad!key",
        "'!' is not allowed",
    ),
    "metadata-value-min-1": Rule(
        "CustomerMetadataProperties", {"k": "v"}, {"k": ""}, "CustomerMetadataProperties.k", "at least 1 character"
    ),
    "metadata-value-max-256": Rule(
        "CustomerMetadataProperties",
        {"k": "v" * 256},
        {"k": "v" * 257},
        "CustomerMetadataProperties.k",
        "at most 256 characters",
    ),
    "metadata-value-characters": Rule(
        "CustomerMetadataProperties",
        {"auc": "0.91 n=5000"},
        {"auc": "0.91;0.87"},
        "CustomerMetadataProperties.auc",
        "';' is not allowed",
    ),
    "remove-key-min-1": Rule(
        "CustomerMetadataPropertiesToRemove", ["k"], [""], "CustomerMetadataPropertiesToRemove.0", "at least 1 char"
    ),
    "remove-key-max-128": Rule(
        "CustomerMetadataPropertiesToRemove",
        ["k" * 128],
        ["k" * 129],
        "CustomerMetadataPropertiesToRemove.0",
        "at most 128 characters",
    ),
    "remove-key-characters": Rule(
        "CustomerMetadataPropertiesToRemove",
        ["registrar:decision"],
        ["registrar#decision"],
        "CustomerMetadataPropertiesToRemove.0",
        "'#' is not allowed",
    ),
    "key-set-and-removed": pytest.param(
        Rule(
            "CustomerMetadataPropertiesToRemove",
            ["stale"],
            ["team"],
            "CustomerMetadataPropertiesToRemove",
            "cannot be set and removed",
            extra={"CustomerMetadataProperties": {"team": "ml"}},
        ),
    ),
    # --- AdditionalInferenceSpecificationsToAdd: 1..15, names unique within the request
    "specs-min-1": Rule(
        "AdditionalInferenceSpecificationsToAdd",
        minimal_specs("a"),
        [],
        "AdditionalInferenceSpecificationsToAdd",
        "at least 1 item",
    ),
    "specs-max-15": Rule(
        "AdditionalInferenceSpecificationsToAdd",
        minimal_specs(*(f"s{i}" for i in range(15))),
        minimal_specs(*(f"s{i}" for i in range(16))),
        "AdditionalInferenceSpecificationsToAdd",
        "at most 15 items",
    ),
    "spec-names-unique-in-request": pytest.param(
        Rule(
            "AdditionalInferenceSpecificationsToAdd",
            minimal_specs("neo-a", "neo-b"),
            minimal_specs("neo-a", "neo-a"),
            "AdditionalInferenceSpecificationsToAdd",
            "names must be unique",
        ),
    ),
    "spec-name-required": Rule(f"{SPEC}.Name", "neo-ml-c5", DELETE, f"{SPEC}.Name", "Field required"),
    "spec-name-no-underscore": Rule(f"{SPEC}.Name", "neo-ml-c5", "neo_ml_c5", f"{SPEC}.Name", "no underscores"),
    "spec-name-no-leading-hyphen": Rule(f"{SPEC}.Name", "a--b", "-ab", f"{SPEC}.Name", "must match"),
    "spec-name-max-63": Rule(f"{SPEC}.Name", "n" * 63, "n" * 64, f"{SPEC}.Name", "at most 63 characters"),
    "spec-description-max-1024": Rule(
        f"{SPEC}.Description", "d" * 1024, "d" * 1025, f"{SPEC}.Description", "at most 1024 characters"
    ),
    "spec-description-characters": Rule(
        f"{SPEC}.Description",
        "Neo: ml_c5 (µ-arch) ✓ 2×",
        "first line\nsecond line",
        f"{SPEC}.Description",
        "is not allowed",
    ),
    "containers-required": Rule(
        f"{SPEC}.Containers", [{"Image": "repo/image:1"}], DELETE, f"{SPEC}.Containers", "Field required"
    ),
    "containers-min-1": Rule(
        f"{SPEC}.Containers", [{"Image": "repo/image:1"}], [], f"{SPEC}.Containers", "at least 1 item"
    ),
    "containers-max-15": Rule(
        f"{SPEC}.Containers",
        [{"Image": "repo/image:1"}] * 15,
        [{"Image": "repo/image:1"}] * 16,
        f"{SPEC}.Containers",
        "at most 15 items",
    ),
    # --- ModelPackageContainerDefinition
    "hostname-pattern": Rule(
        f"{CONTAINER}.ContainerHostname", "model-1", "model_1", f"{CONTAINER}.ContainerHostname", "must match"
    ),
    "hostname-max-63": Rule(
        f"{CONTAINER}.ContainerHostname", "h" * 63, "h" * 64, f"{CONTAINER}.ContainerHostname", "at most 63"
    ),
    "image-no-whitespace": Rule(
        f"{CONTAINER}.Image", "repo/image@sha256:abc", "repo/image :1", f"{CONTAINER}.Image", "no whitespace"
    ),
    "image-max-255": Rule(f"{CONTAINER}.Image", "i" * 255, "i" * 256, f"{CONTAINER}.Image", "at most 255 characters"),
    "image-digest-pattern": Rule(
        f"{CONTAINER}.ImageDigest", "sha256:" + "a1" * 32, "md5:" + "a1" * 16, f"{CONTAINER}.ImageDigest", "must match"
    ),
    "model-data-url-scheme": Rule(
        f"{CONTAINER}.ModelDataUrl",
        "https://models.s3.amazonaws.com/m/model.tar.gz",
        "ftp://models/m/model.tar.gz",
        f"{CONTAINER}.ModelDataUrl",
        "s3:// or https://",
    ),
    "model-data-url-max-1024": Rule(
        f"{CONTAINER}.ModelDataUrl",
        "s3://models/" + "k" * (1024 - len("s3://models/.tar.gz")) + ".tar.gz",
        "s3://models/" + "k" * (1025 - len("s3://models/.tar.gz")) + ".tar.gz",
        f"{CONTAINER}.ModelDataUrl",
        "at most 1024 characters",
    ),
    "model-data-url-tar-gz": pytest.param(
        Rule(
            f"{CONTAINER}.ModelDataUrl",
            "s3://models/m/model.tar.gz",
            "s3://models/m/model.zip",
            f"{CONTAINER}.ModelDataUrl",
            ".tar.gz archive",
        ),
    ),
    "s3-data-type-enum": Rule(
        f"{CONTAINER}.ModelDataSource",
        s3_source(S3DataType="S3Object"),
        s3_source(S3DataType="S3Folder"),
        f"{S3_SOURCE}.S3DataType",
        "'S3Prefix' or 'S3Object'",
    ),
    "s3-compression-enum": Rule(
        f"{CONTAINER}.ModelDataSource",
        s3_source(CompressionType="None"),
        s3_source(CompressionType="gzip"),
        f"{S3_SOURCE}.CompressionType",
        "'None' or 'Gzip'",
    ),
    "s3-uri-required": Rule(
        f"{CONTAINER}.ModelDataSource", s3_source(), s3_source(S3Uri=DELETE), f"{S3_SOURCE}.S3Uri", "Field required"
    ),
    "s3-uri-pattern": Rule(
        f"{CONTAINER}.ModelDataSource",
        s3_source(S3Uri="s3://models/m/model.tar.gz"),
        s3_source(S3Uri="models/m/model.tar.gz"),
        f"{S3_SOURCE}.S3Uri",
        "s3:// or https://",
    ),
    "s3-prefix-ends-with-slash": pytest.param(
        Rule(
            f"{CONTAINER}.ModelDataSource",
            s3_source(S3DataType="S3Prefix", CompressionType="None", S3Uri="s3://models/m/"),
            s3_source(S3DataType="S3Prefix", CompressionType="None", S3Uri="s3://models/m"),
            f"{S3_SOURCE}.S3Uri",
            "must end with '/'",
        ),
    ),
    "accept-eula-required": Rule(
        f"{CONTAINER}.ModelDataSource",
        s3_source(ModelAccessConfig={"AcceptEula": True}),
        s3_source(ModelAccessConfig={}),
        f"{S3_SOURCE}.ModelAccessConfig.AcceptEula",
        "Field required",
    ),
    "accept-eula-boolean": Rule(
        f"{CONTAINER}.ModelDataSource",
        s3_source(ModelAccessConfig={"AcceptEula": False}),
        s3_source(ModelAccessConfig={"AcceptEula": "perhaps"}),
        f"{S3_SOURCE}.ModelAccessConfig.AcceptEula",
        "valid boolean",
    ),
    "hub-content-arn-required": Rule(
        f"{CONTAINER}.ModelDataSource",
        s3_source(HubAccessConfig={"HubContentArn": "arn:aws:sagemaker:us-east-1:aws:hub-content/x"}),
        s3_source(HubAccessConfig={}),
        f"{S3_SOURCE}.HubAccessConfig.HubContentArn",
        "Field required",
    ),
    "hub-content-arn-max-255": Rule(
        f"{CONTAINER}.ModelDataSource",
        s3_source(HubAccessConfig={"HubContentArn": "a" * 255}),
        s3_source(HubAccessConfig={"HubContentArn": "a" * 256}),
        f"{S3_SOURCE}.HubAccessConfig.HubContentArn",
        "at most 255 characters",
    ),
    "manifest-s3-uri-pattern": Rule(
        f"{CONTAINER}.ModelDataSource",
        s3_source(ManifestS3Uri="s3://models/manifest.csv"),
        s3_source(ManifestS3Uri="manifest.csv"),
        f"{S3_SOURCE}.ManifestS3Uri",
        "s3:// or https://",
    ),
    "s3-etag-string": Rule(
        f"{CONTAINER}.ModelDataSource",
        s3_source(ETag='"9b2cf535f27731c974343645a3985328"'),
        s3_source(ETag=9),
        f"{S3_SOURCE}.ETag",
        "valid string",
    ),
    "manifest-etag-string": Rule(
        f"{CONTAINER}.ModelDataSource",
        s3_source(ManifestEtag='"abc"'),
        s3_source(ManifestEtag=["abc"]),
        f"{S3_SOURCE}.ManifestEtag",
        "valid string",
    ),
    "product-id-pattern": Rule(
        f"{CONTAINER}.ProductId", "prod-4x7b", "prod_4x7b", f"{CONTAINER}.ProductId", "must match"
    ),
    "product-id-max-256": Rule(
        f"{CONTAINER}.ProductId", "p" * 256, "p" * 257, f"{CONTAINER}.ProductId", "at most 256 characters"
    ),
    "environment-max-16": Rule(
        f"{CONTAINER}.Environment",
        {f"VAR_{i}": "1" for i in range(16)},
        {f"VAR_{i}": "1" for i in range(17)},
        f"{CONTAINER}.Environment",
        "at most 16 items",
    ),
    "environment-key-pattern": Rule(
        f"{CONTAINER}.Environment",
        {"_SM_PROGRAM2": "x"},
        {"2SM_PROGRAM": "x"},
        f"{CONTAINER}.Environment.2SM_PROGRAM",
        "must match",
    ),
    "environment-key-max-1024": Rule(
        f"{CONTAINER}.Environment",
        {"K" * 1024: "x"},
        {"K" * 1025: "x"},
        f"{CONTAINER}.Environment." + "K" * 39 + "…",  # long keys are cut in the path
        "at most 1024 characters",
    ),
    "environment-value-max-1024": Rule(
        f"{CONTAINER}.Environment",
        {"K": "v" * 1024},
        {"K": "v" * 1025},
        f"{CONTAINER}.Environment.K",
        "at most 1024 characters",
    ),
    "model-input-required": Rule(
        f"{CONTAINER}.ModelInput",
        {"DataInputConfig": '{"input0": [1, 3, 224, 224]}'},
        {},
        f"{CONTAINER}.ModelInput.DataInputConfig",
        "Field required",
    ),
    "model-input-min-1": Rule(
        f"{CONTAINER}.ModelInput.DataInputConfig",
        " ",
        "",
        f"{CONTAINER}.ModelInput.DataInputConfig",
        "at least 1 character",
    ),
    "model-input-max-16384": Rule(
        f"{CONTAINER}.ModelInput.DataInputConfig",
        "x" * 16384,
        "x" * 16385,
        f"{CONTAINER}.ModelInput.DataInputConfig",
        "at most 16384 characters",
    ),
    "framework-string": Rule(f"{CONTAINER}.Framework", "PYTORCH", 7, f"{CONTAINER}.Framework", "valid string"),
    "framework-version-pattern": Rule(
        f"{CONTAINER}.FrameworkVersion", "2.0.1-cu1", "v2.0", f"{CONTAINER}.FrameworkVersion", "must match"
    ),
    "framework-version-length-3-10": Rule(
        f"{CONTAINER}.FrameworkVersion", "1.23456789", "1.234567890", f"{CONTAINER}.FrameworkVersion", "at most 10"
    ),
    "nearest-model-name-string": Rule(
        f"{CONTAINER}.NearestModelName", "resnet50", ["resnet50"], f"{CONTAINER}.NearestModelName", "valid string"
    ),
    "additional-s3-type-enum": Rule(
        f"{CONTAINER}.AdditionalS3DataSource",
        additional_s3(S3DataType="S3Object"),
        additional_s3(S3DataType="Object"),
        f"{CONTAINER}.AdditionalS3DataSource.S3DataType",
        "'S3Object' or 'S3Prefix'",
    ),
    "additional-s3-type-required": Rule(
        f"{CONTAINER}.AdditionalS3DataSource",
        additional_s3(),
        additional_s3(S3DataType=DELETE),
        f"{CONTAINER}.AdditionalS3DataSource.S3DataType",
        "Field required",
    ),
    "additional-s3-uri-pattern": Rule(
        f"{CONTAINER}.AdditionalS3DataSource",
        additional_s3(S3Uri="https://models.s3.amazonaws.com/extra/vocab.txt"),
        additional_s3(S3Uri="file:///extra/vocab.txt"),
        f"{CONTAINER}.AdditionalS3DataSource.S3Uri",
        "s3:// or https://",
    ),
    "additional-s3-compression-enum": Rule(
        f"{CONTAINER}.AdditionalS3DataSource",
        additional_s3(CompressionType="Gzip"),
        additional_s3(CompressionType="zip"),
        f"{CONTAINER}.AdditionalS3DataSource.CompressionType",
        "'None' or 'Gzip'",
    ),
    "additional-s3-etag-string": Rule(
        f"{CONTAINER}.AdditionalS3DataSource",
        additional_s3(ETag='"abc"'),
        additional_s3(ETag=1),
        f"{CONTAINER}.AdditionalS3DataSource.ETag",
        "valid string",
    ),
    "additional-s3-prefix-ends-with-slash": pytest.param(
        Rule(
            f"{CONTAINER}.AdditionalS3DataSource",
            additional_s3(S3DataType="S3Prefix", S3Uri="s3://models/extra/"),
            additional_s3(S3DataType="S3Prefix", S3Uri="s3://models/extra"),
            f"{CONTAINER}.AdditionalS3DataSource.S3Uri",
            "must end with '/'",
        ),
    ),
    "model-data-etag-string": Rule(
        f"{CONTAINER}.ModelDataETag", '"abc"', 12, f"{CONTAINER}.ModelDataETag", "valid string"
    ),
    "additional-model-data-sources-max-5": Rule(
        f"{CONTAINER}.AdditionalModelDataSources",
        [{"ChannelName": f"c{i}", **s3_source()} for i in range(5)],
        [{"ChannelName": f"c{i}", **s3_source()} for i in range(6)],
        f"{CONTAINER}.AdditionalModelDataSources",
        "at most 5 items",
    ),
    "channel-name-pattern": Rule(
        f"{CONTAINER}.AdditionalModelDataSources",
        [{"ChannelName": "draft_model.v1-a", **s3_source()}],
        [{"ChannelName": "draft model", **s3_source()}],
        f"{CONTAINER}.AdditionalModelDataSources.0.ChannelName",
        "must match",
    ),
    # --- instance types and MIME types of a specification
    "transform-types-min-1": Rule(
        f"{SPEC}.SupportedTransformInstanceTypes",
        ["ml.c5.xlarge"],
        [],
        f"{SPEC}.SupportedTransformInstanceTypes",
        "at least 1 item",
    ),
    "transform-types-enum": Rule(
        f"{SPEC}.SupportedTransformInstanceTypes",
        ["ml.c5.xlarge", "ml.m5.large"],
        ["ml.c5.xlarge", "ml.t2.medium"],
        f"{SPEC}.SupportedTransformInstanceTypes.1",
        "TransformInstanceType",
    ),
    "realtime-types-enum": Rule(
        f"{SPEC}.SupportedRealtimeInferenceInstanceTypes",
        ["ml.t2.medium"],
        ["ml.c5.huge"],
        f"{SPEC}.SupportedRealtimeInferenceInstanceTypes.0",
        "ProductionVariantInstanceType",
    ),
    "content-type-max-256": Rule(
        f"{SPEC}.SupportedContentTypes",
        ["c" * 256],
        ["c" * 257],
        f"{SPEC}.SupportedContentTypes.0",
        "at most 256 characters",
    ),
    "response-mime-pattern": Rule(
        f"{SPEC}.SupportedResponseMIMETypes",
        ["application/x-npy"],
        ["json"],
        f"{SPEC}.SupportedResponseMIMETypes.0",
        "MIME type",
    ),
    "response-mime-max-1024": Rule(
        f"{SPEC}.SupportedResponseMIMETypes",
        ["a/" + "b" * 1022],
        ["a/" + "b" * 1023],
        f"{SPEC}.SupportedResponseMIMETypes.0",
        "at most 1024 characters",
    ),
    # --- InferenceSpecification (the primary one)
    "inference-spec-containers-required": Rule(
        "InferenceSpecification",
        PRIMARY,
        {"SupportedContentTypes": ["text/csv"]},
        "InferenceSpecification.Containers",
        "Field required",
    ),
    "inference-spec-has-no-name": Rule(
        "InferenceSpecification", PRIMARY, {**PRIMARY, "Name": "x"}, "InferenceSpecification.Name", "Extra inputs"
    ),
    "inference-spec-transform-enum": Rule(
        "InferenceSpecification.SupportedTransformInstanceTypes",
        ["ml.m5.large"],
        ["ml.m5.large", "ml.m5.huge"],
        "InferenceSpecification.SupportedTransformInstanceTypes.1",
        "TransformInstanceType",
    ),
    "inference-spec-environment-max-16": Rule(
        "InferenceSpecification.Containers.0.Environment",
        {f"V{i}": "" for i in range(16)},
        {f"V{i}": "" for i in range(17)},
        "InferenceSpecification.Containers.0.Environment",
        "at most 16 items",
    ),
    # --- SourceUri: 0..1024 of letters, marks, separators, numbers, punctuation
    "source-uri-max-1024": Rule("SourceUri", "s" * 1024, "s" * 1025, "SourceUri", "at most 1024 characters"),
    "source-uri-characters": Rule(
        "SourceUri", "s3://code/runs/42/", "https://git.example.com/?ref=main", "SourceUri", "'=' is not allowed"
    ),
    # --- ModelCard
    "card-status-enum": Rule(
        "ModelCard",
        {"ModelCardStatus": "PendingReview"},
        {"ModelCardStatus": "Done"},
        "ModelCard.ModelCardStatus",
        "'Archived'",
    ),
    "card-content-max-100000": Rule(
        "ModelCard.ModelCardContent", "c" * 100_000, "c" * 100_001, "ModelCard.ModelCardContent", "at most 100000"
    ),
    # --- ModelLifeCycle: Stage and StageStatus required, EntityName pattern; StageDescription 0..1024
    "life-cycle-stage-required": Rule(
        "ModelLifeCycle",
        {"Stage": "staging", "StageStatus": "InProgress"},
        {"StageStatus": "InProgress"},
        "ModelLifeCycle.Stage",
        "Field required",
    ),
    "life-cycle-status-required": Rule(
        "ModelLifeCycle",
        {"Stage": "staging", "StageStatus": "InProgress"},
        {"Stage": "staging"},
        "ModelLifeCycle.StageStatus",
        "Field required",
    ),
    "life-cycle-stage-pattern": Rule(
        "ModelLifeCycle",
        {"Stage": "pre-prod", "StageStatus": "InProgress"},
        {"Stage": "pre_prod", "StageStatus": "InProgress"},
        "ModelLifeCycle.Stage",
        "must match",
    ),
    "life-cycle-status-pattern": Rule(
        "ModelLifeCycle",
        {"Stage": "staging", "StageStatus": "In-Progress"},
        {"Stage": "staging", "StageStatus": "in progress"},
        "ModelLifeCycle.StageStatus",
        "must match",
    ),
    "life-cycle-stage-max-63": Rule(
        "ModelLifeCycle",
        {"Stage": "s" * 63, "StageStatus": "ok"},
        {"Stage": "s" * 64, "StageStatus": "ok"},
        "ModelLifeCycle.Stage",
        "at most 63 characters",
    ),
    "life-cycle-description-max-1024": Rule(
        "ModelLifeCycle",
        {"Stage": "staging", "StageStatus": "ok", "StageDescription": "d" * 1024},
        {"Stage": "staging", "StageStatus": "ok", "StageDescription": "d" * 1025},
        "ModelLifeCycle.StageDescription",
        "at most 1024 characters",
    ),
    # --- ClientToken: 1..36 of [a-zA-Z0-9-]
    "client-token-min-1": Rule("ClientToken", "t", "", "ClientToken", "at least 1 character"),
    "client-token-max-36": Rule("ClientToken", "t" * 36, "t" * 37, "ClientToken", "at most 36 characters"),
    "client-token-characters": Rule("ClientToken", "Abc-123", "abc_123", "ClientToken", "must match"),
}


def _ids_and_rules() -> list[Any]:
    """Every row as a plain param (no marks): the accepted/refused tests hold for every rule."""
    params = []
    for name, value in RULES.items():
        rule = value.values[0] if not isinstance(value, Rule) else value
        params.append(pytest.param(rule, id=name))
    return params


def _path_params() -> list[Any]:
    """Every row, with its marks."""
    params = []
    for name, value in RULES.items():
        if isinstance(value, Rule):
            params.append(pytest.param(value, id=name))
        else:
            params.append(pytest.param(value.values[0], id=name, marks=value.marks))
    return params


def _set(request: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at a dotted ``path`` (list indexes as numbers), creating missing structures."""
    *parents, last = path.split(".")
    node: Any = request
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    key: Any = int(last) if isinstance(node, list) else last
    if value is DELETE:
        del node[key]
    else:
        node[key] = copy.deepcopy(value)


@pytest.fixture
def request_with(valid_spec: Any) -> Any:
    """Build a request that is valid except, possibly, for one member: ``request_with(rule, value)``."""

    def build(rule: Rule, value: Any) -> dict[str, Any]:
        request: dict[str, Any] = {"ModelPackageArn": ARN, **copy.deepcopy(rule.extra)}
        if rule.path.startswith("AdditionalInferenceSpecificationsToAdd."):
            request["AdditionalInferenceSpecificationsToAdd"] = [valid_spec()]
        if rule.path.startswith("InferenceSpecification."):
            request["InferenceSpecification"] = copy.deepcopy(PRIMARY)
        _set(request, rule.path, value)
        return request

    return build


def _violation_for(error: InvalidUpdateError, rule: Rule) -> Any:
    matching = [v for v in error.violations if rule.rule in v.rule]
    assert matching, f"no violation states {rule.rule!r}: {error.violations}"
    return matching[0]


# ---------------------------------------------------------------------------------------------- rules, row by row


@pytest.mark.parametrize("rule", _ids_and_rules())
def test_accepted_value_validates_and_serialises_unchanged(rule: Rule, request_with: Any) -> None:
    # GIVEN a request whose member at the rule's path holds an allowed value
    request = request_with(rule, rule.accepted)
    # WHEN it is built
    update = PackageUpdate(**request)
    # THEN it is accepted and serialises to exactly the same keyword arguments
    assert update.to_request() == request


@pytest.mark.parametrize("rule", _ids_and_rules())
def test_accepted_value_passes_botocore_validation(rule: Rule, request_with: Any, update_input_shape: Any) -> None:
    # GIVEN an accepted request
    update = PackageUpdate(**request_with(rule, rule.accepted))
    # WHEN botocore's own client-side validator checks its keyword arguments
    report = ParamValidator().validate(update.to_request(), update_input_shape)
    # THEN botocore finds nothing wrong either
    assert not report.has_errors(), report.generate_report()


@pytest.mark.parametrize("rule", _ids_and_rules())
def test_refused_value_raises_one_violation_stating_the_rule(rule: Rule, request_with: Any) -> None:
    # GIVEN a request that breaks exactly one rule
    request = request_with(rule, rule.refused)
    # WHEN it is built
    with pytest.raises(InvalidUpdateError) as caught:
        PackageUpdate(**request)
    # THEN one violation is reported, stating the rule and showing the value cut to at most 60 characters,
    # and the message carries both
    assert len(caught.value.violations) == 1, caught.value.violations
    violation = _violation_for(caught.value, rule)
    assert 0 < len(violation.value) <= 60
    assert f"{violation.rule} (got {violation.value})" in str(caught.value)


@pytest.mark.parametrize("rule", _path_params())
def test_refused_value_violation_names_the_field_path(rule: Rule, request_with: Any) -> None:
    # GIVEN a request that breaks one rule
    request = request_with(rule, rule.refused)
    # WHEN it is built
    with pytest.raises(InvalidUpdateError) as caught:
        PackageUpdate(**request)
    # THEN the violation names the member's path (a map key's own rule may add pydantic's "[key]" marker)
    violation = _violation_for(caught.value, rule)
    assert violation.field in (rule.field, f"{rule.field}.[key]")


# ------------------------------------------------------------------------------------------------------- enums


@pytest.mark.parametrize("status", ["Approved", "Rejected", "PendingManualApproval"])
def test_every_approval_status_is_accepted(status: str) -> None:
    # GIVEN / WHEN an update sets each status of the ModelApprovalStatus enum
    update = PackageUpdate(ModelPackageArn=ARN, ModelApprovalStatus=status)
    # THEN it is accepted
    assert update.to_request()["ModelApprovalStatus"] == status


@pytest.mark.parametrize("status", ["Draft", "PendingReview", "Approved", "Archived"])
def test_every_model_card_status_is_accepted(status: str) -> None:
    # GIVEN / WHEN an update sets each status of the ModelCardStatus enum
    update = PackageUpdate(ModelPackageArn=ARN, ModelCard={"ModelCardStatus": status})
    # THEN it is accepted
    assert update.to_request()["ModelCard"] == {"ModelCardStatus": status}


@pytest.mark.parametrize("instance_type", _shapes.TRANSFORM_INSTANCE_TYPES)
def test_every_transform_instance_type_is_accepted(instance_type: str, valid_spec: Any) -> None:
    # GIVEN a specification listing one TransformInstanceType of the API
    spec = valid_spec(SupportedTransformInstanceTypes=[instance_type])
    # WHEN the update is built
    update = PackageUpdate(ModelPackageArn=ARN, AdditionalInferenceSpecificationsToAdd=[spec])
    # THEN it is accepted
    assert update.to_request()["AdditionalInferenceSpecificationsToAdd"][0]["SupportedTransformInstanceTypes"] == [
        instance_type
    ]


@pytest.mark.parametrize("instance_type", _shapes.REALTIME_INSTANCE_TYPES)
def test_every_realtime_instance_type_is_accepted(instance_type: str, valid_spec: Any) -> None:
    # GIVEN a specification listing one ProductionVariantInstanceType of the API
    spec = valid_spec(SupportedRealtimeInferenceInstanceTypes=[instance_type])
    # WHEN the update is built
    update = PackageUpdate(ModelPackageArn=ARN, AdditionalInferenceSpecificationsToAdd=[spec])
    # THEN it is accepted
    assert update.to_request()["AdditionalInferenceSpecificationsToAdd"][0][
        "SupportedRealtimeInferenceInstanceTypes"
    ] == [instance_type]


UNKNOWN_TYPES = ["ml.c5.huge", "ML.C5.XLARGE", "c5.xlarge", "ml_c5", "ml.c5.xlarge ", ""]
REALTIME_ONLY = sorted(set(_shapes.REALTIME_INSTANCE_TYPES) - set(_shapes.TRANSFORM_INSTANCE_TYPES))


@pytest.mark.parametrize("instance_type", UNKNOWN_TYPES)
def test_transform_instance_type_outside_the_enum_is_refused(instance_type: str, valid_spec: Any) -> None:
    # GIVEN a transform instance type the TransformInstanceType enum lacks (typo, case, Neo target name)
    spec = valid_spec(SupportedTransformInstanceTypes=[instance_type])
    # WHEN the update is built
    with pytest.raises(InvalidUpdateError) as caught:
        PackageUpdate(ModelPackageArn=ARN, AdditionalInferenceSpecificationsToAdd=[spec])
    # THEN it is refused at that list item
    assert [v.field for v in caught.value.violations] == [f"{SPEC}.SupportedTransformInstanceTypes.0"]


def test_every_realtime_only_type_is_refused_as_a_transform_type(valid_spec: Any) -> None:
    # GIVEN every ProductionVariantInstanceType that is not a TransformInstanceType (ml.t2.*, ml.inf1.*, ...)
    assert len(REALTIME_ONLY) > 100
    spec = valid_spec(SupportedTransformInstanceTypes=REALTIME_ONLY)
    # WHEN they are listed as transform instance types
    with pytest.raises(InvalidUpdateError) as caught:
        PackageUpdate(ModelPackageArn=ARN, AdditionalInferenceSpecificationsToAdd=[spec])
    # THEN each one is refused at its own index
    assert [v.field for v in caught.value.violations] == [
        f"{SPEC}.SupportedTransformInstanceTypes.{i}" for i in range(len(REALTIME_ONLY))
    ]


@pytest.mark.parametrize("instance_type", UNKNOWN_TYPES)
def test_realtime_instance_type_outside_the_enum_is_refused(instance_type: str, valid_spec: Any) -> None:
    # GIVEN a realtime instance type the ProductionVariantInstanceType enum lacks
    spec = valid_spec(SupportedRealtimeInferenceInstanceTypes=["ml.c5.large", instance_type])
    # WHEN the update is built
    with pytest.raises(InvalidUpdateError) as caught:
        PackageUpdate(ModelPackageArn=ARN, AdditionalInferenceSpecificationsToAdd=[spec])
    # THEN it is refused at that list item
    assert [v.field for v in caught.value.violations] == [f"{SPEC}.SupportedRealtimeInferenceInstanceTypes.1"]


def _enum(shape: Any, *path: str) -> list[str]:
    for member in path:
        shape = shape.members[member] if member != "member" else shape.member
    return list(shape.enum)


@pytest.mark.parametrize(
    ("ours", "path"),
    [
        pytest.param(
            _shapes.TRANSFORM_INSTANCE_TYPES,
            ("InferenceSpecification", "SupportedTransformInstanceTypes", "member"),
            id="TransformInstanceType",
        ),
        pytest.param(
            _shapes.REALTIME_INSTANCE_TYPES,
            ("InferenceSpecification", "SupportedRealtimeInferenceInstanceTypes", "member"),
            id="ProductionVariantInstanceType",
        ),
        pytest.param(_shapes.MODEL_APPROVAL_STATUSES, ("ModelApprovalStatus",), id="ModelApprovalStatus"),
        pytest.param(_shapes.MODEL_CARD_STATUSES, ("ModelCard", "ModelCardStatus"), id="ModelCardStatus"),
    ],
)
def test_enums_are_those_of_the_installed_service_model(
    ours: tuple[str, ...], path: tuple[str, ...], update_input_shape: Any
) -> None:
    # GIVEN the enum registrar validates against and botocore's service model for UpdateModelPackage
    theirs = _enum(update_input_shape, *path)
    # WHEN they are compared
    # THEN they hold exactly the same values, in the same order
    assert list(ours) == theirs


# ------------------------------------------------------------------------------------------ unknown members, errors


@pytest.mark.parametrize(
    ("path", "field"),
    [
        pytest.param("ModelPackageName", "ModelPackageName", id="top-level"),
        pytest.param(f"{SPEC}.Image", f"{SPEC}.Image", id="specification"),
        pytest.param(f"{CONTAINER}.ModelDataURL", f"{CONTAINER}.ModelDataURL", id="container-misspelt"),
        pytest.param("ModelCard.Content", "ModelCard.Content", id="model-card"),
        pytest.param("ModelLifeCycle.Stage.Name", "ModelLifeCycle.Stage", id="life-cycle-wrong-type"),
    ],
)
def test_unknown_member_is_refused(path: str, field: str, valid_spec: Any) -> None:
    # GIVEN a request with a member the API does not have (or a structure where a string belongs)
    request: dict[str, Any] = {
        "ModelPackageArn": ARN,
        "AdditionalInferenceSpecificationsToAdd": [valid_spec()],
        "ModelLifeCycle": {"Stage": "staging", "StageStatus": "ok"},
    }
    if path.startswith("ModelLifeCycle.Stage."):
        request["ModelLifeCycle"]["Stage"] = {"Name": "staging"}
    else:
        _set(request, path, "x")
    # WHEN it is built
    with pytest.raises(InvalidUpdateError) as caught:
        PackageUpdate(**request)
    # THEN it is refused naming that member
    assert [v.field for v in caught.value.violations] == [field]


def test_every_violation_is_reported_at_once(valid_spec: Any) -> None:
    # GIVEN a request breaking three rules in three places
    spec = valid_spec(name="neo_ml_c5", SupportedTransformInstanceTypes=["ml.t2.medium"])
    # WHEN it is built
    with pytest.raises(InvalidUpdateError) as caught:
        PackageUpdate(ModelPackageArn=ARN, ModelApprovalStatus="OK", AdditionalInferenceSpecificationsToAdd=[spec])
    # THEN all three are reported, each with its own path
    assert sorted(v.field for v in caught.value.violations) == [
        f"{SPEC}.Name",
        f"{SPEC}.SupportedTransformInstanceTypes.0",
        "ModelApprovalStatus",
    ]


def test_long_value_is_truncated_in_the_message() -> None:
    # GIVEN an approval description of 5000 characters, far over the 1024 allowed
    description = "why " * 1250
    # WHEN the update is built
    with pytest.raises(InvalidUpdateError) as caught:
        PackageUpdate(ModelPackageArn=ARN, ApprovalDescription=description)
    # THEN the message names field and rule and shows only the start of the value
    message = str(caught.value)
    assert "ApprovalDescription" in message
    assert "at most 1024 characters" in message
    assert "'why why" in message
    assert "…" in message
    assert len(message) < 300


def test_long_map_key_is_truncated_in_the_message(valid_spec: Any) -> None:
    # GIVEN an Environment key of 5000 characters (the limit is 1024)
    spec = valid_spec()
    spec["Containers"][0]["Environment"] = {"K" * 5000: "v"}
    # WHEN the update is built
    with pytest.raises(InvalidUpdateError) as caught:
        PackageUpdate(ModelPackageArn=ARN, AdditionalInferenceSpecificationsToAdd=[spec])
    # THEN the message stays short: the key is not repeated in full
    assert len(str(caught.value)) < 500


def test_invalid_update_error_is_a_registrar_value_error() -> None:
    # GIVEN an invalid request WHEN it is built
    with pytest.raises(InvalidUpdateError) as caught:
        PackageUpdate(ModelPackageArn="churn")
    # THEN the one error type is both a RegistrarError and a ValueError, for callers that catch either
    assert isinstance(caught.value, RegistrarError)
    assert isinstance(caught.value, ValueError)


def test_nested_shape_built_alone_raises_the_same_error_type() -> None:
    # GIVEN a container definition built on its own (as the Neo mapping may do)
    # WHEN its image holds whitespace
    with pytest.raises(InvalidUpdateError) as caught:
        ContainerDefinition(Image="repo/image :1")
    # THEN the same error type names the member
    assert [v.field for v in caught.value.violations] == ["Image"]


def test_built_container_can_be_nested_in_an_update() -> None:
    # GIVEN a container definition built on its own
    container = ContainerDefinition(Image="repo/image:1", ModelDataUrl="s3://models/m/model.tar.gz")
    # WHEN it is used in a specification
    update = PackageUpdate(
        ModelPackageArn=ARN,
        AdditionalInferenceSpecificationsToAdd=[{"Name": "neo-ml-c5", "Containers": [container]}],
    )
    # THEN the request carries it as plain keyword arguments
    assert update.to_request()["AdditionalInferenceSpecificationsToAdd"][0]["Containers"] == [
        {"Image": "repo/image:1", "ModelDataUrl": "s3://models/m/model.tar.gz"}
    ]


def test_update_is_immutable() -> None:
    # GIVEN a valid update
    update = PackageUpdate(ModelPackageArn=ARN, ModelApprovalStatus="Approved")
    # WHEN a member is assigned
    # THEN it is refused: a validated request cannot be made invalid afterwards
    with pytest.raises(Exception, match="frozen"):
        update.ModelApprovalStatus = "Bogus"  # type: ignore[misc,assignment]


# ------------------------------------------------------------------------------------------------ to_request


def _full_request(valid_spec: Any) -> dict[str, Any]:
    """A request setting every member of the CLI reference, and every nested member of a container."""
    spec = valid_spec()
    spec["Containers"][0].update(
        {
            "ContainerHostname": "neo-c5",
            "ImageDigest": "sha256:" + "0f" * 32,
            "ModelDataSource": s3_source(
                ModelAccessConfig={"AcceptEula": True},
                HubAccessConfig={"HubContentArn": "arn:aws:sagemaker:us-east-1:aws:hub-content/x"},
                ManifestS3Uri="s3://models/manifest.csv",
                ETag='"e1"',
                ManifestEtag='"e2"',
            ),
            "ProductId": "prod-1",
            "ModelInput": {"DataInputConfig": '{"data": [1, 3]}'},
            "NearestModelName": "xgboost",
            "AdditionalS3DataSource": additional_s3(ETag='"e3"'),
            "ModelDataETag": '"e4"',
        }
    )
    return {
        "ModelPackageArn": ARN,
        "ModelApprovalStatus": "Approved",
        "ApprovalDescription": "auc 0.91 >= 0.85",
        "CustomerMetadataProperties": {"registrar:decision": "Approved", "registrar:auc": "0.91"},
        "CustomerMetadataPropertiesToRemove": ["registrar:hold-reason"],
        "AdditionalInferenceSpecificationsToAdd": [spec],
        "InferenceSpecification": copy.deepcopy(PRIMARY),
        "SourceUri": "s3://code/runs/42/",
        "ModelCard": {"ModelCardContent": '{"model_overview": {}}', "ModelCardStatus": "Draft"},
        "ModelLifeCycle": {"Stage": "staging", "StageStatus": "Approved", "StageDescription": "promoted"},
        "ClientToken": "0b7c1f9e-2d5a-4c8b-9e6f-3a1d2c4b5e6f",
    }


def test_full_request_serialises_to_exactly_its_keyword_arguments(valid_spec: Any) -> None:
    # GIVEN a request setting every member of update-model-package
    request = _full_request(valid_spec)
    # WHEN it is validated and serialised
    serialised = PackageUpdate.from_request(request).to_request()
    # THEN the boto3 keyword arguments are exactly the request
    assert serialised == request


def test_full_request_passes_botocore_validation(valid_spec: Any, update_input_shape: Any) -> None:
    # GIVEN the serialised full request
    request = PackageUpdate.from_request(_full_request(valid_spec)).to_request()
    # WHEN botocore validates it against UpdateModelPackageInput
    report = ParamValidator().validate(request, update_input_shape)
    # THEN it has no errors (every member name and type is the API's own)
    assert not report.has_errors(), report.generate_report()


def test_unset_members_are_omitted() -> None:
    # GIVEN an update that sets only the status (and one member explicitly to None)
    update = PackageUpdate(ModelPackageArn=ARN, ModelApprovalStatus="Approved", ApprovalDescription=None)
    # WHEN it is serialised
    request = update.to_request()
    # THEN only the members that are set appear
    assert request == {"ModelPackageArn": ARN, "ModelApprovalStatus": "Approved"}


def test_unset_nested_members_are_omitted() -> None:
    # GIVEN a specification whose container sets only an image
    update = PackageUpdate(
        ModelPackageArn=ARN,
        AdditionalInferenceSpecificationsToAdd=[{"Name": "neo", "Containers": [{"Image": "repo/image:1"}]}],
    )
    # WHEN it is serialised
    request = update.to_request()
    # THEN the nested structures carry no None members
    assert request["AdditionalInferenceSpecificationsToAdd"] == [
        {"Name": "neo", "Containers": [{"Image": "repo/image:1"}]}
    ]


def test_false_is_kept_not_omitted() -> None:
    # GIVEN a model data source that explicitly declines the EULA
    source = s3_source(ModelAccessConfig={"AcceptEula": False})
    update = PackageUpdate(
        ModelPackageArn=ARN,
        AdditionalInferenceSpecificationsToAdd=[{"Name": "neo", "Containers": [{"ModelDataSource": source}]}],
    )
    # WHEN it is serialised
    container = update.to_request()["AdditionalInferenceSpecificationsToAdd"][0]["Containers"][0]
    # THEN False is sent (only None means unset)
    assert container["ModelDataSource"]["S3DataSource"]["ModelAccessConfig"] == {"AcceptEula": False}


def test_round_trip_through_from_request(valid_spec: Any) -> None:
    # GIVEN a full update
    update = PackageUpdate.from_request(_full_request(valid_spec))
    # WHEN its request is read back
    again = PackageUpdate.from_request(update.to_request())
    # THEN it is the same update
    assert again == update


def test_from_request_refuses_an_invalid_request() -> None:
    # GIVEN keyword arguments as a --cli-input-json file would hold them, with a bad status
    request = {"ModelPackageArn": ARN, "ModelApprovalStatus": "Yes"}
    # WHEN they are read
    # THEN the one error type is raised
    with pytest.raises(InvalidUpdateError, match=re.escape("ModelApprovalStatus")):
        PackageUpdate.from_request(request)


def test_changes_leave_out_target_and_token() -> None:
    # GIVEN an update with a token
    update = PackageUpdate(ModelPackageArn=ARN, ModelApprovalStatus="Rejected", ClientToken="abc")
    # WHEN its changes are read
    # THEN they hold what changes, not which package or which token
    assert update.changes == {"ModelApprovalStatus": "Rejected"}


# ---------------------------------------------------------------------------------------------- check_against


def _specs(count: int, prefix: str = "new") -> list[dict[str, Any]]:
    return minimal_specs(*(f"{prefix}-{i}" for i in range(count)))


@pytest.mark.parametrize(
    ("existing", "new"),
    [pytest.param(0, 15, id="0+15"), pytest.param(14, 1, id="14+1"), pytest.param(7, 8, id="7+8")],
)
def test_check_against_accepts_up_to_15_specifications_in_total(existing: int, new: int, make_package: Any) -> None:
    # GIVEN a package with some specifications and an update adding enough to reach exactly 15
    package = make_package(specifications=existing)
    update = PackageUpdate(ModelPackageArn=ARN, AdditionalInferenceSpecificationsToAdd=_specs(new))
    # WHEN it is checked against the package
    # THEN it is accepted
    update.check_against(package)


@pytest.mark.parametrize(
    ("existing", "new"),
    [pytest.param(15, 1, id="15+1"), pytest.param(14, 2, id="14+2"), pytest.param(1, 15, id="1+15")],
)
def test_check_against_refuses_more_than_15_specifications_in_total(existing: int, new: int, make_package: Any) -> None:
    # GIVEN a package with some specifications and an update that would take it past 15
    package = make_package(specifications=existing)
    update = PackageUpdate(ModelPackageArn=ARN, AdditionalInferenceSpecificationsToAdd=_specs(new))
    # WHEN it is checked against the package
    with pytest.raises(InvalidUpdateError) as caught:
        update.check_against(package)
    # THEN the violation names the list and the cap, with the counts
    (violation,) = caught.value.violations
    assert violation.field == "AdditionalInferenceSpecificationsToAdd"
    assert "at most 15" in violation.rule
    assert violation.value == f"{new} new + {existing} existing"


def test_check_against_refuses_a_name_already_attached(make_package: Any) -> None:
    # GIVEN a package with a specification named attached-0
    package = make_package(specifications=1)
    update = PackageUpdate(
        ModelPackageArn=ARN, AdditionalInferenceSpecificationsToAdd=minimal_specs("new-0", "attached-0")
    )
    # WHEN an update adding that name again is checked
    with pytest.raises(InvalidUpdateError) as caught:
        update.check_against(package)
    # THEN it is refused naming the attached name
    (violation,) = caught.value.violations
    assert violation.field == "AdditionalInferenceSpecificationsToAdd"
    assert "already attached" in violation.rule
    assert "attached-0" in violation.value


def test_check_against_accepts_a_name_not_yet_attached(make_package: Any) -> None:
    # GIVEN a package with attached-0 WHEN an update adds attached-1
    package = make_package(specifications=1)
    update = PackageUpdate(ModelPackageArn=ARN, AdditionalInferenceSpecificationsToAdd=minimal_specs("attached-1"))
    # THEN it is accepted
    update.check_against(package)


def _metadata(count: int, prefix: str = "old") -> dict[str, str]:
    return {f"{prefix}-{i}": "v" for i in range(count)}


@pytest.mark.parametrize(
    ("existing", "added", "removed"),
    [
        pytest.param(49, _metadata(1, "new"), [], id="49+1=50"),
        pytest.param(50, {"old-0": "changed"}, [], id="50-overwrite-existing"),
        pytest.param(50, _metadata(1, "new"), ["old-0"], id="50+1-1=50"),
        pytest.param(50, _metadata(2, "new"), ["old-0", "old-1", "absent"], id="removal-makes-room"),
    ],
)
def test_check_against_accepts_at_most_50_metadata_entries_after_merge(
    existing: int, added: dict[str, str], removed: list[str], make_package: Any
) -> None:
    # GIVEN a package with metadata and an update that leaves at most 50 entries
    package = make_package(CustomerMetadataProperties=_metadata(existing))
    update = PackageUpdate(
        ModelPackageArn=ARN,
        CustomerMetadataProperties=added or None,
        CustomerMetadataPropertiesToRemove=removed or None,
    )
    # WHEN it is checked against the package
    # THEN it is accepted
    update.check_against(package)


@pytest.mark.parametrize(
    ("existing", "added", "removed"),
    [
        pytest.param(50, _metadata(1, "new"), [], id="50+1"),
        pytest.param(45, _metadata(10, "new"), ["old-0"], id="45+10-1"),
        pytest.param(50, _metadata(1, "new"), ["absent"], id="removing-absent-key-makes-no-room"),
    ],
)
def test_check_against_refuses_more_than_50_metadata_entries_after_merge(
    existing: int, added: dict[str, str], removed: list[str], make_package: Any
) -> None:
    # GIVEN a package with metadata and an update that would leave more than 50 entries
    package = make_package(CustomerMetadataProperties=_metadata(existing))
    update = PackageUpdate(
        ModelPackageArn=ARN, CustomerMetadataProperties=added, CustomerMetadataPropertiesToRemove=removed or None
    )
    # WHEN it is checked against the package
    with pytest.raises(InvalidUpdateError) as caught:
        update.check_against(package)
    # THEN the violation names the metadata, the cap and the count after the merge
    (violation,) = caught.value.violations
    assert violation.field == "CustomerMetadataProperties"
    assert "at most 50" in violation.rule
    assert (
        violation.value == f"{existing + len(added) - len(set(removed) & set(_metadata(existing)))} entries after merge"
    )


ARCHIVED_CARD = {"ModelCardContent": '{"v": 1}', "ModelCardStatus": "Archived"}


@pytest.mark.parametrize(
    "card",
    [
        pytest.param({"ModelCardContent": '{"v": 1}'}, id="same-content"),
        pytest.param({"ModelCardContent": '{"v": 1}', "ModelCardStatus": "Archived"}, id="same-card"),
        pytest.param({"ModelCardStatus": "Draft"}, id="status-only"),
    ],
)
def test_check_against_accepts_no_content_change_to_an_archived_card(card: dict[str, str], make_package: Any) -> None:
    # GIVEN a package whose model card is Archived
    package = make_package(ModelCard=ARCHIVED_CARD)
    # WHEN an update that does not change the content is checked
    update = PackageUpdate(ModelPackageArn=ARN, ModelCard=card)
    # THEN it is accepted
    update.check_against(package)


def test_check_against_refuses_a_content_change_to_an_archived_card(make_package: Any) -> None:
    # GIVEN a package whose model card is Archived
    package = make_package(ModelCard=ARCHIVED_CARD)
    # WHEN an update changing the content is checked
    update = PackageUpdate(ModelPackageArn=ARN, ModelCard={"ModelCardContent": '{"v": 2}', "ModelCardStatus": "Draft"})
    with pytest.raises(InvalidUpdateError) as caught:
        update.check_against(package)
    # THEN it is refused naming the content and the rule
    (violation,) = caught.value.violations
    assert violation.field == "ModelCard.ModelCardContent"
    assert "Archived" in violation.rule
    assert violation.value == "'{\"v\": 2}'"


@pytest.mark.parametrize("status", ["Draft", "PendingReview", "Approved"])
def test_check_against_accepts_a_content_change_to_a_card_not_archived(status: str, make_package: Any) -> None:
    # GIVEN a package whose card is not Archived WHEN its content changes
    package = make_package(ModelCard={"ModelCardContent": '{"v": 1}', "ModelCardStatus": status})
    update = PackageUpdate(ModelPackageArn=ARN, ModelCard={"ModelCardContent": '{"v": 2}'})
    # THEN it is accepted
    update.check_against(package)


def test_check_against_refuses_another_package(make_package: Any, other_arn: str) -> None:
    # GIVEN an update for version 4 WHEN it is checked against version 3
    package = make_package()
    update = PackageUpdate(ModelPackageArn=other_arn, ModelApprovalStatus="Approved")
    with pytest.raises(InvalidUpdateError) as caught:
        update.check_against(package)
    # THEN it is refused naming the package's ARN and (the start of) the requested one
    (violation,) = caught.value.violations
    assert violation.field == "ModelPackageArn"
    assert violation.rule == f"must be {ARN}"
    assert other_arn.startswith(violation.value.strip("'…"))


def test_check_against_reports_every_broken_rule(make_package: Any, other_arn: str) -> None:
    # GIVEN a full package with an Archived card, and an update breaking four package rules
    package = make_package(
        specifications=15, CustomerMetadataProperties=_metadata(50), ModelCard=ARCHIVED_CARD, ModelPackageArn=other_arn
    )
    update = PackageUpdate(
        ModelPackageArn=ARN,
        AdditionalInferenceSpecificationsToAdd=minimal_specs("attached-0"),
        CustomerMetadataProperties={"new": "v"},
        ModelCard={"ModelCardContent": "{}"},
    )
    # WHEN it is checked
    with pytest.raises(InvalidUpdateError) as caught:
        update.check_against(package)
    # THEN all are reported together
    assert sorted(v.field for v in caught.value.violations) == [
        "AdditionalInferenceSpecificationsToAdd",
        "AdditionalInferenceSpecificationsToAdd",
        "CustomerMetadataProperties",
        "ModelCard.ModelCardContent",
        "ModelPackageArn",
    ]


# ------------------------------------------------------------------- regex semantics of the service model's patterns


@pytest.mark.parametrize(
    "request_members",
    [
        pytest.param({"ApprovalDescription": "auc 0.91\nf1 0.88"}, id="approval-description"),
        pytest.param(
            {"ModelLifeCycle": {"Stage": "staging", "StageStatus": "ok", "StageDescription": "a\nb"}},
            id="stage-description",
        ),
        pytest.param(
            {"InferenceSpecification": {**PRIMARY, "SupportedContentTypes": ["text/csv\n"]}}, id="content-type"
        ),
    ],
)
def test_dot_star_pattern_refuses_a_line_break(request_members: dict[str, Any]) -> None:
    # GIVEN a member whose model pattern is '.*' (or '.{0,1024}') holding a line break
    # WHEN the update is built
    # THEN it is refused, as the service's pattern check would
    with pytest.raises(InvalidUpdateError):
        PackageUpdate(ModelPackageArn=ARN, **request_members)


def test_response_mime_type_word_characters_are_ascii(valid_spec: Any) -> None:
    # GIVEN a response MIME type with a non-ASCII letter, which '[-\w]+\/.+' refuses in the service's regex dialect
    spec = valid_spec(SupportedResponseMIMETypes=["tëxt/csv"])
    # WHEN the update is built
    # THEN it is refused
    with pytest.raises(InvalidUpdateError):
        PackageUpdate(ModelPackageArn=ARN, AdditionalInferenceSpecificationsToAdd=[spec])


def test_model_validate_raises_the_same_error_type() -> None:
    # GIVEN a request dict with a name where an ARN belongs
    # WHEN it is validated through pydantic's own entry point
    # THEN the one error type is raised, as with the constructor
    with pytest.raises(InvalidUpdateError):
        PackageUpdate.model_validate({"ModelPackageArn": "churn"})
