"""Evidence for a decision: the report read from S3 (or why it could not be), and the metrics in it.

Reading turns every failure that retrying cannot fix into an :class:`Evidence` with a ``problem``, so
the decision can follow the policy's ``on_failure`` with the reason; it never raises for those.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from jmespath.exceptions import JMESPathError
from pydantic import BaseModel, ConfigDict

from registrar.approval.policy import Evaluation, compile_expression
from registrar.errors import EvidenceError
from registrar.package import ModelPackage

FINISHED_JOB_STATUSES = frozenset({"Completed", "Failed", "Stopped"})
REGISTRAR_EVIDENCE_KEY = "registrar:evidence"
MAX_METADATA_VALUE = 256


class ReportReader(Protocol):
    """What evidence reading needs from a report store (:class:`registrar.reports.ReportStore`, or a fake)."""

    def read_json(self, uri: str) -> Any:
        """The parsed JSON at ``uri``; raises :class:`~registrar.errors.EvidenceError` when unusable."""
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
    """

    model_config = ConfigDict(frozen=True)

    uri: str | None = None
    report: Any | None = None
    problem: str | None = None
    job_status: str | None = None
    subject: str | None = None

    @property
    def usable(self) -> bool:
        """True when a report was read and no job failed: metrics may be looked at."""
        return self.problem is None and self.report is not None and self.job_status in (None, "Completed")


def read_evidence(reports: ReportReader, uri: str | None, *, subject: str | None = None, missing: str = "") -> Evidence:
    """Read the report at ``uri`` into :class:`Evidence`, a ``problem`` instead of an exception.

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
    """
    if uri is None:
        return Evidence(problem=missing or "no report location is known", subject=subject)
    try:
        report = reports.read_json(uri)
    except EvidenceError as error:
        return Evidence(uri=uri, problem=str(error), subject=subject)
    if report is None:
        return Evidence(uri=uri, problem=f"report {uri} holds JSON null", subject=subject)
    return Evidence(uri=uri, report=report, subject=subject)


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
    """The champion's own report: its ModelQuality statistics, else the report registrar approved it on.

    A ``registrar:evidence`` that is not a URI recorded verbatim (see :func:`recorded_report_uri`) is
    never read: the champion then has no report, and the comparison cannot be made.
    """
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


def job_evidence(job: dict[str, Any], evaluation: Evaluation, reports: ReportReader, *, subject: str) -> Evidence:
    """Evidence from a finished processing job (as DescribeProcessingJob returned it).

    A Failed or Stopped job is evidence of failure, whatever its outputs hold; a Completed job's
    evidence is the file ``evaluation.file`` in the output ``evaluation.output_name``.
    """
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


def metric_value(report: Any, expression: str) -> tuple[float | None, str | None]:
    """Read one metric from a report: a finite number, or why not.

    Returns
    -------
    tuple
        ``(value, None)`` for a finite int or float; ``(None, problem)`` otherwise, where problem is
        ``absent``, ``NaN``, ``infinite``, ``a boolean``, ``a string ('...')``, ``a list``, ``an object``
        or why the expression could not be evaluated.
    """
    try:
        raw = compile_expression(expression).search(report)
    except JMESPathError as error:
        return None, f"not evaluable ({type(error).__name__})"
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
