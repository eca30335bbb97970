"""Neo compilation jobs that end the way Neo's do.

Departure corrected (docs/sagemaker.md#departures-corrected, the Neo row): moto completes every compilation job at
once with ``InferenceImage`` set to the literal ``"InferenceImage"``, ``S3ModelArtifacts`` set to the output prefix,
a placeholder ``DerivedInformation``, and no way to fail. :class:`NeoCompilationJob` (a subclass of
moto's ``CompilationJob``, created by the emulator's SageMaker backend) still ends at once, but:

- ``CompilationJobStatus`` is ``COMPLETED``, or ``FAILED``/``STOPPED`` when the job is tagged
  ``emulator:outcome``; a failed job has ``FailureReason``
  ``ClientError: emulator:outcome=FAILED: compilation failed as requested``; failed and stopped jobs have
  no ``ModelArtifacts``, ``ModelDigests`` or ``InferenceImage``.
- ``ModelArtifacts.S3ModelArtifacts`` is ``<S3OutputLocation without trailing slash>/<name>-<target>.tar.gz``,
  where ``<name>`` is the basename of the input model without ``.tar.gz`` (``InputConfig.S3Uri``, or
  the versioned package's first container ``ModelDataUrl``), or ``model``; ``<target>`` is
  ``TargetDevice`` (``ml_c5``), or ``<os>_<arch>[_<accelerator>]`` in lower case for a
  ``TargetPlatform``. An empty object is put there in the emulator's S3 when the bucket exists.
- ``InferenceImage`` is set for ``ml_*`` targets only (see :func:`inference_image`).
- ``CreationTime``, ``CompilationStartTime``, ``CompilationEndTime`` and ``LastModifiedTime`` have
  millisecond precision, as the API returns them, so that a ``LastModifiedTime`` read back and passed
  to ``ListCompilationJobs(LastModifiedTimeAfter=...)`` excludes the job it was read from.

InferenceImage scheme (realistic, not a copy of AWS's table)::

    763104351884.dkr.ecr.<region>.amazonaws.com[.cn]/<runtime>-inference-<flavour>:<version>-<processor>-py3

- ``763104351884``: the AWS Deep Learning Containers registry account.
- ``<runtime>``: ``pytorch`` (PYTORCH), ``tensorflow`` (TENSORFLOW, KERAS, TFLITE), ``mxnet`` (MXNET, ONNX,
  DARKNET), ``xgboost`` (XGBOOST), ``sklearn`` (SKLEARN). A job on a model package takes the framework
  from the package's first container (``Framework``/``FrameworkVersion``), PyTorch without one.
- ``<version>``: major.minor of ``FrameworkVersion`` for PyTorch, TensorFlow and MXNet; otherwise the
  runtime's default (pytorch 1.13, tensorflow 2.9, mxnet 1.8, xgboost 1.5, sklearn 1.2).
- ``<flavour>``/``<processor>`` by target: ``ml_c4 ml_c5 ml_m4 ml_m5 ml_eia2`` -> ``neo``/``cpu``;
  ``ml_p2 ml_p3 ml_g4dn`` -> ``neo``/``gpu``; ``ml_inf1`` -> ``neuron``/``neuron``;
  ``ml_inf2 ml_trn1`` -> ``neuronx``/``neuronx``; ``ml_c6g ml_m6g`` -> ``graviton``/``cpu``.
  Every other target (``lambda``, edge devices, ``TargetPlatform``) gets no image: those models are
  not hosted on SageMaker.

Example: PyTorch 1.13.1 for ``ml_c5`` in us-east-1 is
``763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference-neo:1.13-cpu-py3``.
"""

from __future__ import annotations

import contextlib
from typing import Any

from moto.s3.exceptions import MissingBucket
from moto.s3.models import s3_backends
from moto.sagemaker.models import CompilationJob, ModelPackage
from moto.utilities.utils import get_partition

from registrar_dev.emulator import clock
from registrar_dev.emulator.outcome import requested_outcome

DLC_ACCOUNT = "763104351884"
FAILURE_REASON = "ClientError: emulator:outcome=FAILED: compilation failed as requested"
FINAL_STATUSES = ("COMPLETED", "FAILED", "STOPPED")

# Framework -> (runtime, default version, whether FrameworkVersion is the runtime's own version).
_RUNTIMES: dict[str, tuple[str, str, bool]] = {
    "PYTORCH": ("pytorch", "1.13", True),
    "TENSORFLOW": ("tensorflow", "2.9", True),
    "KERAS": ("tensorflow", "2.9", False),
    "TFLITE": ("tensorflow", "2.9", False),
    "MXNET": ("mxnet", "1.8", True),
    "ONNX": ("mxnet", "1.8", False),
    "DARKNET": ("mxnet", "1.8", False),
    "XGBOOST": ("xgboost", "1.5", False),
    "SKLEARN": ("sklearn", "1.2", False),
}

# Target device -> (image flavour, processor).
_CLOUD_TARGETS: dict[str, tuple[str, str]] = {
    **dict.fromkeys(("ml_c4", "ml_c5", "ml_m4", "ml_m5", "ml_eia2"), ("neo", "cpu")),
    **dict.fromkeys(("ml_p2", "ml_p3", "ml_g4dn"), ("neo", "gpu")),
    "ml_inf1": ("neuron", "neuron"),
    **dict.fromkeys(("ml_inf2", "ml_trn1"), ("neuronx", "neuronx")),
    **dict.fromkeys(("ml_c6g", "ml_m6g"), ("graviton", "cpu")),
}


def inference_image(framework: str | None, framework_version: str | None, target: str, region: str) -> str | None:
    """Name the image Neo would serve a compiled model with.

    Parameters
    ----------
    framework
        ``InputConfig.Framework`` (``PYTORCH``, ...); ``None`` or unknown means PyTorch.
    framework_version
        ``InputConfig.FrameworkVersion``, e.g. ``1.13.1``; ``None`` for the runtime's default.
    target
        ``OutputConfig.TargetDevice`` (``ml_c5``), or the TargetPlatform label.
    region
        The job's region.

    Returns
    -------
    str or None
        The ECR image URI (scheme in the module docstring), or ``None`` for a target that is not a
        SageMaker instance family.
    """
    if target not in _CLOUD_TARGETS:
        return None
    flavour, processor = _CLOUD_TARGETS[target]
    runtime, version, own_version = _RUNTIMES.get((framework or "").upper(), _RUNTIMES["PYTORCH"])
    if own_version and framework_version:
        version = ".".join(framework_version.split(".")[:2])
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{DLC_ACCOUNT}.dkr.ecr.{region}.{domain}/{runtime}-inference-{flavour}:{version}-{processor}-py3"


def target_label(output_config: dict[str, Any]) -> str:
    """Name the compilation target as the artifact name carries it.

    Parameters
    ----------
    output_config
        The job's ``OutputConfig``.

    Returns
    -------
    str
        ``TargetDevice``, or ``<os>_<arch>[_<accelerator>]`` in lower case for a ``TargetPlatform``.
    """
    if output_config.get("TargetDevice"):
        return str(output_config["TargetDevice"])
    platform = output_config.get("TargetPlatform") or {}
    parts = [platform.get("Os"), platform.get("Arch"), platform.get("Accelerator")]
    return "_".join(str(part) for part in parts if part).lower()


def compiled_artifact_uri(output_location: str, input_uri: str | None, target: str) -> str:
    """Name the compiled model's ``.tar.gz`` as Neo does.

    Parameters
    ----------
    output_location
        ``OutputConfig.S3OutputLocation``.
    input_uri
        The input model's S3 URI, or ``None`` when unknown.
    target
        :func:`target_label` of the job.

    Returns
    -------
    str
        ``<output_location without trailing slash>/<input basename without .tar.gz, or model>-<target>.tar.gz``.
    """
    key = (input_uri or "").split("://", 1)[-1].partition("/")[2]
    name = key.rstrip("/").rsplit("/", 1)[-1].removesuffix(".tar.gz") or "model"
    return f"{output_location.rstrip('/')}/{name}-{target}.tar.gz"


def _first_container(model_package: ModelPackage | None) -> dict[str, Any]:
    if model_package is None:
        return {}
    containers = (model_package.inference_specification or {}).get("Containers") or [{}]
    return dict(containers[0])


class NeoCompilationJob(CompilationJob):
    """A moto compilation job that ends as Neo's do (see the module docstring).

    Parameters
    ----------
    model_package
        The versioned package named by ``ModelPackageVersionArn``, when it exists in the emulator.
    **kwargs
        moto's ``CompilationJob`` arguments.
    """

    def __init__(self, model_package: ModelPackage | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tags = list(self.tags or [])  # moto keeps None, and ListTags then answers HTTP 500
        region: str = kwargs["region_name"]
        account_id: str = kwargs["account_id"]
        started = clock.now()
        self.creation_time = started
        self.compilation_start_time = started
        self.compilation_job_status = requested_outcome(self.tags, FINAL_STATUSES, default="COMPLETED")
        self.failure_reason = FAILURE_REASON if self.compilation_job_status == "FAILED" else ""
        self.inference_image = ""
        if self.compilation_job_status == "COMPLETED":
            container = _first_container(model_package)
            input_config = self.input_config or {}
            framework = input_config.get("Framework") or container.get("Framework")
            version = input_config.get("FrameworkVersion") or container.get("FrameworkVersion")
            target = target_label(self.output_config)
            artifact = compiled_artifact_uri(
                self.output_config["S3OutputLocation"],
                input_config.get("S3Uri") or container.get("ModelDataUrl"),
                target,
            )
            self.model_artifacts = {"S3ModelArtifacts": artifact}
            self.inference_image = inference_image(framework, version, target, region) or ""
            _put_empty_object(artifact, account_id, region)
        ended = clock.now()
        self.compilation_end_time = ended
        self.last_modified_time = ended

    def describe(self) -> dict[str, Any]:
        """Describe the job for ``DescribeCompilationJob``.

        Returns
        -------
        dict
            moto's description without moto's placeholder ``DerivedInformation``, without
            ``InferenceImage`` for a target that has none, and without ``ModelArtifacts``,
            ``ModelDigests`` and ``InferenceImage`` unless the job completed.
        """
        described = super().describe()
        described.pop("DerivedInformation")
        if self.compilation_job_status != "COMPLETED":
            for member in ("ModelArtifacts", "ModelDigests", "InferenceImage"):
                described.pop(member)
        if not self.inference_image:
            described.pop("InferenceImage", None)
        return described

    def summary(self) -> dict[str, Any]:
        """Summarise the job for ``ListCompilationJobs``.

        Returns
        -------
        dict
            moto's summary, without the ``KeyError`` moto raises for a ``TargetPlatform`` that has no
            ``Accelerator``.
        """
        summary = {
            "CompilationJobName": self.compilation_job_name,
            "CompilationJobArn": self.arn,
            "CreationTime": self.creation_time,
            "CompilationStartTime": self.compilation_start_time,
            "CompilationEndTime": self.compilation_end_time,
            "LastModifiedTime": self.last_modified_time,
            "CompilationJobStatus": self.compilation_job_status,
            "CompilationTargetDevice": self.output_config.get("TargetDevice"),
        }
        platform = self.output_config.get("TargetPlatform") or {}
        summary["CompilationTargetPlatformOs"] = platform.get("Os")
        summary["CompilationTargetPlatformArch"] = platform.get("Arch")
        summary["CompilationTargetPlatformAccelerator"] = platform.get("Accelerator")
        return {key: value for key, value in summary.items() if value is not None}


def _put_empty_object(uri: str, account_id: str, region: str) -> None:
    if not uri.startswith("s3://"):
        return
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    # Tests that only read the job's description need not create the output bucket.
    with contextlib.suppress(MissingBucket):
        s3_backends[account_id][get_partition(region)].put_object(bucket, key, b"")
