"""Evidence for a decision: the report read from S3 (or why it could not be), and the metrics in it.

Reading turns every failure of the report's own into an :class:`Evidence` with a ``problem``, so the
decision can follow the policy's ``on_failure`` with the reason; what the deployment keeps registrar
from reading becomes ``blocked`` evidence, on which the version is held whatever the rule says.

A tag is a pointer, not proof: an evaluation job's report counts for a version only when the job
evaluated that version's model (:func:`unbound_reason`); otherwise the job's evidence is refused,
never weighed (docs/decisions.md, "Evidence is bound to its version").
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult
from pydantic import BaseModel, ConfigDict

from registrar.accounts import Accounts, arn_account
from registrar.approval.policy import Evaluation, compile_expression
from registrar.errors import DeploymentError, EvidenceError
from registrar.package import ModelPackage
from registrar.reports import Report

FINISHED_JOB_STATUSES = frozenset({"Completed", "Failed", "Stopped"})
REGISTRAR_EVIDENCE_KEY = "registrar:evidence"
REGISTRAR_EVIDENCE_VERSION_KEY = "registrar:evidence-version"
MAX_METADATA_VALUE = 256


class ReportReader(Protocol):
    """What evidence reading needs from a report store (:class:`registrar.reports.ReportStore`, or a fake)."""

    def read(self, uri: str, *, version: str | None = None) -> Report:
        """The report at ``uri`` (at ``version``, if given).

        Raises :class:`~registrar.errors.EvidenceError` when the report is unusable and
        :class:`~registrar.errors.DeploymentError` when the deployment keeps it from being read.
        """
        ...


class Evidence(BaseModel):
    """What a decision is made on.

    Attributes
    ----------
    uri
        Where the report was (or should have been) read, if known.
    report
        The parsed report, or ``None`` when it could not be read.
    problem
        Why the evidence cannot support an approval (missing report, unreadable, failed job...), or ``None``.
    job_status
        The evaluation processing job's status, when the evidence came from a job.
    subject
        The model package (or job) ARN the evidence belongs to, for messages.
    version
        The version of the report object read (:attr:`registrar.reports.Report.version`), if any.
    blocked
        Why registrar may not read this evidence at all (a location the deployment does not allow, S3
        refusing the function): the deployment's mistake, not the report's, so no verdict is earned.
    """

    model_config = ConfigDict(frozen=True)

    uri: str | None = None
    report: Any | None = None
    problem: str | None = None
    job_status: str | None = None
    subject: str | None = None
    version: str | None = None
    blocked: str | None = None

    @property
    def usable(self) -> bool:
        """True when a report was read and no job failed: metrics may be looked at."""
        return (
            self.problem is None
            and self.blocked is None
            and self.report is not None
            and self.job_status in (None, "Completed")
        )


class Refusal(BaseModel):
    """Evidence that does not belong to the version it was offered for: refused, never weighed.

    Attributes
    ----------
    reason
        What is unbound, in words an operator reads.
    """

    model_config = ConfigDict(frozen=True)

    reason: str


def read_evidence(
    reports: ReportReader,
    uri: str | None,
    *,
    subject: str | None = None,
    missing: str = "",
    version: str | None = None,
) -> Evidence:
    """Read the report at ``uri`` into :class:`Evidence`, a ``problem`` (or ``blocked``) instead of an exception.

    Parameters
    ----------
    reports
        The report store.
    uri
        The report's ``s3://`` URI; ``None`` gives evidence with the ``missing`` problem.
    subject
        The package the report is about.
    missing
        The problem to state when ``uri`` is ``None``.
    version
        Read the report at this recorded version (a champion's, see :func:`champion_evidence`).
    """
    if uri is None:
        return Evidence(problem=missing or "no report location is known", subject=subject)
    try:
        read = reports.read(uri, version=version)
    except EvidenceError as error:
        return Evidence(uri=uri, problem=str(error), subject=subject)
    except DeploymentError as error:
        return Evidence(uri=uri, blocked=str(error), subject=subject)
    if read.document is None:
        return Evidence(uri=uri, problem=f"report {uri} holds JSON null", subject=subject, version=read.version)
    return Evidence(uri=uri, report=read.document, subject=subject, version=read.version or None)


def package_evidence(package: ModelPackage, reports: ReportReader) -> Evidence:
    """The report SageMaker Pipelines registers: ``ModelMetrics.ModelQuality.Statistics.S3Uri``."""
    return read_evidence(
        reports,
        package.quality_report_uri,
        subject=package.ModelPackageArn,
        missing="the package registers no report (ModelMetrics.ModelQuality.Statistics.S3Uri is not set)",
    )


def recorded_report_uri(recorded: str | None) -> str | None:
    """The report URI a ``registrar:evidence`` value names, or ``None`` when it names none that can be read back.

    registrar records a report's URI only when metadata can hold it verbatim, and a marker (not a URI)
    otherwise; earlier versions recorded an altered URI instead, and one cut to fit is recognisable.

    Parameters
    ----------
    recorded
        The ``registrar:evidence`` value on a package, if any.

    Returns
    -------
    str or None
        The ``s3://`` URI, or ``None`` for no value, ``none``, the marker, or a URI shortened around ``...``.
    """
    if recorded is None or not recorded.startswith("s3://"):
        return None
    if len(recorded) >= MAX_METADATA_VALUE and "..." in recorded:
        return None  # cut to 256 characters: the middle is gone, and reading it would read another key
    return recorded


def champion_evidence(champion: ModelPackage, reports: ReportReader) -> Evidence:
    """The champion's own report, as it was when registrar approved it: the report and the version recorded.

    The report registrar recorded (``registrar:evidence``, at ``registrar:evidence-version``) comes
    first; without a record, the ModelQuality statistics as they are now. A ``registrar:evidence``
    that is not a URI recorded verbatim (see :func:`recorded_report_uri`) is never read: the champion
    then has no report, and the comparison cannot be made. A recorded version that is gone, or an
    object changed since its ETag was recorded, leaves the champion without a report too.
    """
    metadata = champion.CustomerMetadataProperties
    recorded_uri = recorded_report_uri(metadata.get(REGISTRAR_EVIDENCE_KEY))
    recorded_version = metadata.get(REGISTRAR_EVIDENCE_VERSION_KEY) or None
    if recorded_uri is not None and recorded_version not in (None, "none"):
        return read_evidence(reports, recorded_uri, subject=champion.ModelPackageArn, version=recorded_version)
    uri = champion.quality_report_uri
    missing = "the champion has no report (no ModelQuality statistics, no registrar:evidence)"
    if uri is None:
        recorded = champion.CustomerMetadataProperties.get(REGISTRAR_EVIDENCE_KEY)
        uri = recorded_report_uri(recorded)
        if uri is None and recorded not in (None, "none"):
            missing = (
                f"the champion has no report (no ModelQuality statistics, and its registrar:evidence "
                f"{recorded!r} is not a report URI recorded verbatim)"
            )
    return read_evidence(reports, uri, subject=champion.ModelPackageArn, missing=missing)


def evaluation_uri(job: dict[str, Any], evaluation: Evaluation) -> str | None:
    """``S3Output.S3Uri`` of the job's output named ``evaluation.output_name``, joined with ``evaluation.file``."""
    outputs = (job.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    for output in outputs:
        if isinstance(output, dict) and output.get("OutputName") == evaluation.output_name:
            prefix = (output.get("S3Output") or {}).get("S3Uri")
            if isinstance(prefix, str) and prefix:
                return prefix.rstrip("/") + "/" + evaluation.file
    return None


def job_evidence(
    job: dict[str, Any], evaluation: Evaluation, reports: ReportReader, *, package: ModelPackage
) -> Evidence | Refusal:
    """Evidence from a finished processing job (as DescribeProcessingJob returned it) for ``package``.

    A job that did not evaluate the version's model is refused (:func:`unbound_reason`), whatever its
    status. Otherwise a Failed or Stopped job is evidence of failure, whatever its outputs hold; a
    Completed job's evidence is the file ``evaluation.file`` in the output ``evaluation.output_name``.
    """
    unbound = unbound_reason(job, package)
    if unbound is not None:
        return Refusal(reason=unbound)
    subject = package.ModelPackageArn
    name = job.get("ProcessingJobName") or job.get("ProcessingJobArn") or "the processing job"
    status = job.get("ProcessingJobStatus")
    uri = evaluation_uri(job, evaluation)
    if status in ("Failed", "Stopped"):
        why = job.get("FailureReason") or job.get("ExitMessage")
        detail = f": {why}" if why else ""
        return Evidence(uri=uri, job_status=status, problem=f"evaluation job {name} {status}{detail}", subject=subject)
    if uri is None:
        return Evidence(
            job_status=status,
            problem=f"evaluation job {name} has no S3 output named {evaluation.output_name!r}",
            subject=subject,
        )
    return read_evidence(reports, uri, subject=subject).model_copy(update={"job_status": status})


def foreign_evidence_reason(
    job: dict[str, Any] | None, package: ModelPackage, evaluation: Evaluation | None, accounts: Accounts
) -> str | None:
    """Why evidence crossing accounts is refused for ``package``, or ``None``: with one account, never.

    With workload accounts listed, evidence counts only where it was made:

    - a job's report must lie in its own account's report locations (a workload's, or the registry's
      own for a job of the registry account): a job cannot name another account's report as its
      evidence, nor have it read with that account's role;
    - a workload's job is bound to a version by the version's model artifact among its inputs alone,
      not by the version's ARN in its environment or arguments, which any workload could write;
    - a version's own report (``ModelMetrics``, registered by whoever registered the version) is read
      from the registry's own report locations only: a workload's evidence counts through its job's event.

    Parameters
    ----------
    job
        DescribeProcessingJob's answer when the evidence is a job's; ``None`` for the version's own report.
    package
        The version decided.
    evaluation
        Where the rule reads a job's report (its output and file); unused for the version's own report.
    accounts
        The registry and workload accounts.
    """
    if not accounts.workloads:
        return None
    if job is None:
        owner = accounts.owner_of_report(package.quality_report_uri or "")
        if owner is None:
            return None
        return (
            f"the version's own report {package.quality_report_uri} lies in workload account {owner}'s report "
            "locations: a workload's evidence counts through its evaluation job's event, read in its account"
        )
    name = job.get("ProcessingJobName") or job.get("ProcessingJobArn") or "the processing job"
    account = arn_account(job.get("ProcessingJobArn"))
    uri = evaluation_uri(job, evaluation) if evaluation is not None else None
    home = account if account in accounts.workloads else None
    owner = accounts.owner_of_report(uri) if uri is not None else home
    # A report in no configured location at all is the reader's to refuse: the version is held and says so.
    if owner != home and (owner is not None or accounts.is_registry_report(uri or "")):
        where = f"workload account {owner}'s" if owner is not None else "the registry account's"
        return (
            f"evaluation job {name} of account {account} wrote its report {uri} to {where} report locations: "
            "a job's evidence counts only from its own account's"
        )
    artifact = package.model_data_url
    if home is not None and (artifact is None or artifact not in _input_uris(job)):
        looked_for = (
            f"the version's model artifact {artifact}" if artifact else "a model artifact (the version has none)"
        )
        return (
            f"evaluation job {name} of workload account {account} did not take {looked_for} as an input: "
            "a workload's job is bound to a version by the version's model alone"
        )
    return None


def _input_uris(job: dict[str, Any]) -> set[str]:
    return {
        uri
        for entry in job.get("ProcessingInputs") or []
        if isinstance(entry, dict) and isinstance(uri := (entry.get("S3Input") or {}).get("S3Uri"), str)
    }


def job_inputs(job: dict[str, Any]) -> set[str]:
    """What a processing job was given: its inputs' S3 URIs, its environment's values and its container arguments."""
    given = _input_uris(job)
    environment = job.get("Environment") or {}
    if isinstance(environment, dict):
        given.update(value for value in environment.values() if isinstance(value, str))
    arguments = (job.get("AppSpecification") or {}).get("ContainerArguments") or []
    given.update(argument for argument in arguments if isinstance(argument, str))
    return given


def unbound_reason(job: dict[str, Any], package: ModelPackage) -> str | None:
    """Why a processing job's evidence does not belong to ``package``, or ``None`` when it does.

    It belongs when the job evaluated the version's model: the version's model artifact (its primary
    container's ``ModelDataUrl``) is one of the job's ``ProcessingInputs`` (the same S3 URI), or the
    version's ARN is among what the job was given (an input, an environment value, a container
    argument). Anyone who can start a job can tag it; only the job's inputs say what it evaluated.
    """
    given = job_inputs(job)
    artifact = package.model_data_url
    if package.ModelPackageArn in given or (artifact is not None and artifact in given):
        return None
    name = job.get("ProcessingJobName") or job.get("ProcessingJobArn") or "the processing job"
    looked_for = f"its model artifact {artifact}" if artifact else "a model artifact (it has none)"
    return (
        f"evaluation job {name} did not evaluate {package.ModelPackageArn}: neither {looked_for} nor the "
        "version's ARN is among the job's inputs, environment or container arguments"
    )


def metric_value(report: Any, expression: str) -> tuple[float | None, str | None]:
    """Read one metric from a report: a finite number, or why not.

    Returns
    -------
    tuple
        ``(value, None)`` for a finite int or float; ``(None, problem)`` otherwise, where problem is
        ``absent``, ``NaN``, ``infinite``, ``a boolean``, ``a string ('...')``, ``a list``, ``an object``,
        ``ambiguous`` (one value picked out of several, see :func:`_choices`) or why the expression could
        not be evaluated.
    """
    try:
        compiled = compile_expression(expression)
        raw = compiled.search(report)
        choices = _choices(compiled.parsed, report)
    except JMESPathError as error:
        return None, f"not evaluable ({type(error).__name__})"
    if choices > 1:
        return None, f"ambiguous (the expression picks one of {choices} values, as a repeated key would)"
    if raw is None:
        return None, "absent"
    if isinstance(raw, bool):  # bool is an int in Python; true is not 1.0 in a report
        return None, "a boolean"
    if isinstance(raw, int | float):
        try:
            value = float(raw)
        except OverflowError:
            return None, "infinite"
        if math.isnan(value):
            return None, "NaN"
        if math.isinf(value):
            return None, "infinite"
        return value, None
    if isinstance(raw, str):
        shown = raw if len(raw) <= 20 else raw[:19] + "…"
        return None, f"a string ({shown!r})"
    if isinstance(raw, list):
        return None, "a list"
    return None, "an object"


def _choices(node: dict[str, Any], report: Any) -> int:
    """How many values an expression chose its value from: more than one when it picks one element of a projection.

    ``metrics[?name=='auc'].value | [0]`` over a report listing ``auc`` twice takes the first and drops
    the second: the report is ambiguous, as one repeating a key is. Wherever the expression is evaluated
    against the report itself (its top, a pipe's left side, a function's arguments, the source of an
    index), a pipe whose right side starts by picking one element (``| [0]``, ``| [-1].value``), and an
    index applied to a projection (``(metrics[?name=='auc'].value)[0]``), are looked at: the number of
    values picked from is returned when it is more than one; otherwise 1.
    """
    kind = node.get("type")
    children: list[dict[str, Any]] = node.get("children") or []
    if kind == "pipe":
        left, right = children
        nested = _choices(left, report)
        if nested > 1:
            return nested
        return _count(left, report) if _picks_one(right) else 1
    if kind == "index_expression" and children[0].get("type") in _PROJECTIONS and children[1].get("type") == "index":
        return _count(children[0], report)
    if kind in ("function_expression", "index_expression", "subexpression"):
        # A function's arguments, an index's and a subexpression's source are evaluated against the report too.
        for child in children if kind == "function_expression" else children[:1]:
            nested = _choices(child, report)
            if nested > 1:
                return nested
    return 1


_PROJECTIONS = frozenset({"projection", "filter_projection", "value_projection", "flatten"})


def _count(node: dict[str, Any], report: Any) -> int:
    """The number of values ``node`` yields from the report when it yields a list of more than one, else 1."""
    chosen_from = ParsedResult("", node).search(report)
    return len(chosen_from) if isinstance(chosen_from, list) and len(chosen_from) > 1 else 1


def _picks_one(node: dict[str, Any]) -> bool:
    """Whether an expression starts by picking one element of the list it is given (``[0]``, ``[-1].x``)."""
    while node.get("type") == "subexpression":
        node = node["children"][0]
    if node.get("type") != "index_expression":
        return False
    source, index = node["children"]
    return source.get("type") in ("identity", "current") and index.get("type") == "index"
