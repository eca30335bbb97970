"""Botocore clients, created once per process and only when first needed.

botocore-level clients (no boto3 resources, no s3transfer) keep a Lambda cold start short; adaptive
retries absorb throttling. The endpoint comes from ``AWS_ENDPOINT_URL`` (honoured by botocore
itself) unless one is passed, so the same code runs against AWS and the embedded emulator.

Trimmed service data
--------------------
Creating a client parses its service's whole model: SageMaker's is 3,260 shapes, most of a fifth of
a second. registrar's session therefore looks in ``registrar/_data`` first (botocore's own data-path
mechanism, ``AWS_DATA_PATH``), where the models of the services in :data:`TRIMMED_OPERATIONS` hold
only the operations registrar calls, every shape they reach, unchanged, and no documentation, and
where ``endpoints.json`` is botocore's own with the entries of :data:`CLIENT_SERVICES` only (the
whole file is 1.2 MB, parsed on the first client). ``python -m bench.service_models`` writes them
from the installed botocore and checks them. Only this module's session sees them: a client made
elsewhere (``boto3.client``, another botocore session) loads botocore's full data. A client of a
trimmed service has only the listed operations.
"""

from __future__ import annotations

import functools
import os
import pathlib
from collections.abc import Sequence
from typing import Any

MAX_ATTEMPTS = 5
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 20

DATA_PATH = pathlib.Path(__file__).resolve().with_name("_data")
# The operations registrar (and the Powertools utilities it hands a client to) call, per service.
TRIMMED_OPERATIONS: dict[str, tuple[str, ...]] = {
    "sagemaker": (
        "DescribeCompilationJob",
        "DescribeModelPackage",
        "DescribeProcessingJob",
        "ListCompilationJobs",
        "ListModelPackages",
        "ListTags",
        "UpdateModelPackage",
    ),
    "s3": ("GetObject",),
    # Idempotency records (Powertools) and the sweeper's watermark; CreateTable for the local topology.
    "dynamodb": ("CreateTable", "DeleteItem", "GetItem", "PutItem", "UpdateItem"),
    # Powertools Parameters' SSMProvider (the deployed policy).
    "ssm": ("GetParameter", "GetParameters", "GetParametersByPath"),
}


# Every service registrar's session makes clients for; the trimmed endpoints.json keeps their entries.
CLIENT_SERVICES = ("dynamodb", "events", "s3", "sagemaker", "sqs", "ssm")


@functools.cache
def _session() -> Any:
    import botocore.session

    session = botocore.session.get_session()
    # registrar's trimmed models first, then a user's AWS_DATA_PATH, then botocore's own data.
    configured = session.get_config_variable("data_path")
    paths = [str(DATA_PATH)] if DATA_PATH.is_dir() else []
    paths += [os.path.expanduser(path) for path in (configured or "").split(os.pathsep) if path]
    session.register_component("data_loader", _loader_class()(extra_search_paths=paths))
    return session


@functools.cache
def _loader_class() -> type:
    """botocore's data loader, with two differences that only save time.

    Before loading any model, botocore lists every service directory of every search path (twice: for
    the service model and for the endpoint rule set), only to check that the one asked for is there.
    This loader checks that one directory instead; listing every service still lists them all.

    botocore takes an ``endpoints.json`` found outside its own directory for a user's override and then
    feeds its hostnames to the endpoint rule sets as a custom endpoint. registrar's trimmed copy is
    botocore's own data, so this loader says so (:meth:`is_builtin_path`) and endpoints resolve as
    they do with the full file.
    """
    from botocore.loaders import Loader, instance_cache

    class Services(Sequence[str]):
        """The services a loader knows of for one kind of file: checked one by one, listed on demand."""

        def __init__(self, loader: Loader, type_name: str) -> None:
            self._loader = loader
            self._type_name = type_name
            self._listed: list[str] | None = None

        def __contains__(self, service: object) -> bool:
            if not isinstance(service, str) or not service or os.sep in service:
                return False
            for path in self._loader.search_paths:
                directory = os.path.join(path, service)
                if os.path.isdir(directory):
                    for version in os.listdir(directory):
                        if self._loader.file_loader.exists(os.path.join(directory, version, self._type_name)):
                            return True
            return False

        def _all(self) -> list[str]:
            if self._listed is None:  # botocore's own walk, by a plain loader over the same search paths
                paths = list(self._loader.search_paths)
                plain = Loader(extra_search_paths=paths, include_default_search_paths=False)
                self._listed = list(plain.list_available_services(self._type_name))
            return self._listed

        def __getitem__(self, index: Any) -> Any:
            return self._all()[index]

        def __len__(self) -> int:
            return len(self._all())

    trimmed_endpoints = str(DATA_PATH / "endpoints")

    class ServiceLoader(Loader):
        @instance_cache
        def list_available_services(self, type_name: str) -> Services:
            return Services(self, type_name)

        def is_builtin_path(self, path: str) -> bool:
            return bool(super().is_builtin_path(path)) or os.path.abspath(path) == trimmed_endpoints

    return ServiceLoader


def client(service: str, endpoint_url: str | None = None, region: str | None = None) -> Any:
    """Return the process-wide client for ``service``, creating it on first use.

    ``client("s3")`` and ``client("s3", None, None)`` are the same client.

    Parameters
    ----------
    service
        The botocore service name (``sagemaker``, ``s3``, ``events``, ``dynamodb``, ``sqs``).
    endpoint_url
        Overrides ``AWS_ENDPOINT_URL``; used by the CLI's ``--endpoint-url``.
    region
        Overrides the session's region (``AWS_REGION`` / ``AWS_DEFAULT_REGION``).
    """
    # Lambda sets AWS_REGION; botocore itself reads only AWS_DEFAULT_REGION.
    return _client(service, endpoint_url, region or os.environ.get("AWS_REGION") or None)


@functools.cache
def _client(service: str, endpoint_url: str | None, region: str | None) -> Any:
    from botocore.config import Config

    config = Config(
        retries={"mode": "adaptive", "max_attempts": MAX_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
    )
    return _session().create_client(service, endpoint_url=endpoint_url, region_name=region, config=config)


def reset_clients() -> None:
    """Forget every cached client (tests that change endpoints or credentials between cases)."""
    _client.cache_clear()
    _session.cache_clear()


def observe_calls(callback: Any) -> None:
    """Call ``callback(service, operation, kwargs)`` before every AWS call registrar's clients make.

    Registered on the shared session, so it reaches clients created afterwards; the demo and the
    benchmarks count calls per kind with it (botocore's own event hooks, no patching).
    """

    def before_parameter_build(event_name: str, params: dict[str, Any], **kwargs: Any) -> None:
        service_name, operation_name = event_name.split(".")[1:3]
        callback(service_name, operation_name, params)

    # Once per API call (retries are not counted again), with the call's own keyword arguments.
    _session().register("before-parameter-build", before_parameter_build)
