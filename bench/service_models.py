"""Write (or check) the trimmed botocore data registrar's session loads from ``registrar/_data``.

For each service in :data:`registrar.aws.TRIMMED_OPERATIONS`, the installed botocore's model is cut
down to those operations and every shape they reach (input, output, errors, transitively), each
kept exactly as botocore has it; ``documentation`` strings are dropped (botocore reads them only to
build docstrings). ``metadata`` and ``version`` are kept whole, so the endpoint rule set, the
paginators and the protocol are botocore's own. ``endpoints.json`` is botocore's, every partition
kept, with the entries of the services in :data:`registrar.aws.CLIENT_SERVICES` only.

``python -m bench.service_models`` rewrites the files; ``--check`` exits 1 when a file is missing or
differs from what the installed botocore gives (after a botocore upgrade, or a new operation), or
when a request of registrar's session differs from the same request of a plain botocore session
(URL and signing scope, in every partition, with FIPS and dual-stack endpoints too). ``make bench``
runs the check; the cold-start benchmark measures what trimming saves.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from registrar import aws

# TODO(restructure): registrar no longer ships trimmed botocore data nor a Loader of its own: registrar.aws has
# no CLIENT_SERVICES, DATA_PATH or TRIMMED_OPERATIONS any more, and functions/registrar/_data is going away.
# This module (with its check in bench/__main__.py and the "trimmed models" measure in bench/ablation.py) is to be
# reworked by whoever owns that change. Until then it imports, and what needs the trimmed data raises
# NotImplementedError; differences() still compares registrar's requests with a plain botocore session's.
_TRIMMED_DATA = ("CLIENT_SERVICES", "DATA_PATH", "TRIMMED_OPERATIONS")


def _trimmed_data() -> tuple[Sequence[str], pathlib.Path, Mapping[str, Iterable[str]]]:
    """registrar.aws's CLIENT_SERVICES, DATA_PATH and TRIMMED_OPERATIONS; NotImplementedError when gone."""
    found = vars(aws)
    missing = [name for name in _TRIMMED_DATA if name not in found]
    if missing:
        raise NotImplementedError(
            f"TODO(restructure): registrar.aws has no {', '.join(missing)} any more (no trimmed botocore data); "
            "bench/service_models.py is to be reworked"
        )
    return found["CLIENT_SERVICES"], found["DATA_PATH"], found["TRIMMED_OPERATIONS"]


def _references(shape: dict[str, Any]) -> Iterator[str]:
    for key in ("member", "key", "value"):
        if key in shape:
            yield shape[key]["shape"]
    for member in shape.get("members", {}).values():
        yield member["shape"]


def _undocumented(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _undocumented(item) for key, item in value.items() if key != "documentation"}
    if isinstance(value, list):
        return [_undocumented(item) for item in value]
    return value


def trim(model: dict[str, Any], operations: Iterable[str]) -> dict[str, Any]:
    """The service model ``model`` reduced to ``operations`` and the shapes they reach, without documentation.

    Raises
    ------
    KeyError
        An operation is not in the model.
    """
    kept_operations = {name: model["operations"][name] for name in sorted(operations)}
    pending: list[str] = []
    for operation in kept_operations.values():
        pending.extend(operation[key]["shape"] for key in ("input", "output") if key in operation)
        pending.extend(error["shape"] for error in operation.get("errors", []))
    shapes: set[str] = set()
    while pending:
        name = pending.pop()
        if name not in shapes:
            shapes.add(name)
            pending.extend(_references(model["shapes"][name]))
    trimmed = {
        "version": model.get("version", "2.0"),
        "metadata": model["metadata"],
        "operations": kept_operations,
        "shapes": {name: model["shapes"][name] for name in sorted(shapes)},
    }
    result: dict[str, Any] = _undocumented(trimmed)
    return result


def trim_endpoints(endpoints: dict[str, Any], prefixes: Iterable[str]) -> dict[str, Any]:
    """botocore's ``endpoints.json`` with, in every partition, the services whose endpoint prefix is in ``prefixes``."""
    kept = set(prefixes)
    result = dict(endpoints)
    result["partitions"] = [
        {**partition, "services": {name: data for name, data in partition["services"].items() if name in kept}}
        for partition in endpoints["partitions"]
    ]
    return result


def _text(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":")) + "\n"  # botocore's own key order (member order)


def expected() -> dict[pathlib.Path, str]:
    """Each trimmed file's path under ``registrar/_data`` and its text, from the installed botocore."""
    import botocore.loaders

    CLIENT_SERVICES, DATA_PATH, TRIMMED_OPERATIONS = _trimmed_data()  # noqa: N806 - registrar.aws's constants
    loader = botocore.loaders.create_loader()  # botocore's own data only
    prefixes = [
        loader.load_service_model(service, "service-2")["metadata"]["endpointPrefix"] for service in CLIENT_SERVICES
    ]
    files = {DATA_PATH / "endpoints.json": _text(trim_endpoints(loader.load_data("endpoints"), prefixes))}
    for service, operations in TRIMMED_OPERATIONS.items():
        version = loader.determine_latest_version(service, "service-2")
        # load_data, not load_service_model: the sdk-extras are merged by botocore when it loads ours.
        model = loader.load_data(f"{service}/{version}/service-2")
        files[DATA_PATH / service / version / "service-2.json"] = _text(trim(model, operations))
        # Unchanged, but stored plain: botocore ships it gzipped, and S3's (0.9 MB) costs ~3 ms more to inflate.
        files[DATA_PATH / service / version / "endpoint-rule-set-1.json"] = _text(
            loader.load_data(f"{service}/{version}/endpoint-rule-set-1")
        )
    return files


def stale() -> list[str]:
    """The trimmed models that are missing or differ from what the installed botocore gives."""
    _, DATA_PATH, _ = _trimmed_data()  # noqa: N806 - registrar.aws's constant
    problems = []
    wanted = expected()
    for path, text in wanted.items():
        if not path.is_file():
            problems.append(f"{path.relative_to(DATA_PATH)}: missing")
        elif path.read_text() != text:
            problems.append(f"{path.relative_to(DATA_PATH)}: differs from botocore's model")
    for path in DATA_PATH.rglob("*.json"):
        if path not in wanted:
            problems.append(f"{path.relative_to(DATA_PATH)}: not a trimmed service any more")
    return problems


# One call per client service, and the settings and regions its request is compared in.
_CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "sagemaker": ("describe_model_package", {"ModelPackageName": "churn-model"}),
    "s3": ("get_object", {"Bucket": "registrar-reports", "Key": "churn-model/1/evaluation.json"}),
    "dynamodb": ("get_item", {"TableName": "registrar", "Key": {"id": {"S": "x"}}}),
    "ssm": ("get_parameter", {"Name": "/registrar/policy"}),
    "events": ("put_events", {"Entries": [{"Source": "registrar", "DetailType": "d", "Detail": "{}"}]}),
    "sqs": ("get_queue_url", {"QueueName": "registrar-approval"}),
}
_REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1", "us-iso-east-1")
_SETTINGS: tuple[dict[str, str], ...] = ({}, {"AWS_USE_FIPS_ENDPOINT": "true"}, {"AWS_USE_DUALSTACK_ENDPOINT": "true"})


class _SentError(Exception):
    pass


def _request(client: Any, method: str, params: dict[str, Any]) -> tuple[str, str]:
    """The URL and the signing scope of ``method``'s request (it is never sent), or the error instead."""
    seen: dict[str, str] = {}

    def stop(request: Any, **_kwargs: Any) -> None:
        seen["url"] = request.url
        authorization = request.headers.get("Authorization", b"").decode()
        seen["scope"] = authorization.split("Credential=", 1)[-1].split(",", 1)[0].split("/", 2)[-1]
        raise _SentError

    client.meta.events.register("before-send", stop)
    try:
        getattr(client, method)(**params)
    except _SentError:
        return seen["url"], seen["scope"]
    except Exception as error:
        return "error", type(error).__name__
    return "sent", ""


def differences() -> list[str]:
    """Requests of registrar's session that differ from a plain botocore session's, as messages."""
    import os

    import botocore.session

    from registrar import aws

    problems = []
    for settings in _SETTINGS:
        variables = {"AWS_ACCESS_KEY_ID": "check", "AWS_SECRET_ACCESS_KEY": "check", **settings}
        saved = {key: os.environ.get(key) for key in ("AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", *variables)}
        for key in ("AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
            os.environ.pop(key, None)
        os.environ.update(variables)
        try:
            for region in _REGIONS:
                aws.reset_clients()
                plain = botocore.session.Session()
                for service, (method, params) in _CALLS.items():
                    ours = aws.client(service, None, region)
                    theirs = plain.create_client(service, region_name=region)
                    got, want = _request(ours, method, params), _request(theirs, method, params)
                    if got != want:
                        problems.append(f"{service} in {region} {settings or ''}: {got} instead of {want}")
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            aws.reset_clients()
    return problems


def write() -> list[pathlib.Path]:
    """Write every trimmed model; return the paths written."""
    written = []
    for path, text in expected().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.service_models [--check]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when a model is stale")
    args = parser.parse_args(argv)
    if args.check:
        problems = [f"stale: {problem} (run python -m bench.service_models)" for problem in stale()]
        problems += [f"request differs: {problem}" for problem in differences()]
        for problem in problems:
            print(f"trimmed botocore data: {problem}", file=sys.stderr)
        return 1 if problems else 0
    _, data_path, _ = _trimmed_data()
    for path in write():
        print(f"wrote {path.relative_to(data_path.parents[1])} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
