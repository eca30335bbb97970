"""The ``registrar`` command line.

Exit status: 0 when an event was updated, unchanged or skipped; 2 for an invalid event, policy,
argument or ``REGISTRAR_*`` setting (one line on stderr naming it and the rule); 1 for an AWS failure.
"""

from __future__ import annotations

import argparse
import contextvars
import json
import os
import pathlib
import re
import sys
import urllib.parse
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from botocore.exceptions import BotoCoreError, ClientError

from registrar.errors import DeploymentError, EventError, RegistrarError

if TYPE_CHECKING:
    from registrar.settings import Settings

EXIT_OK, EXIT_AWS, EXIT_INVALID = 0, 1, 2

# botocore's own rule for a region name (botocore.utils.validate_region_name).
_REGION = re.compile(r"(?![0-9]+$)(?!-)[a-zA-Z0-9-]{1,63}(?<!-)")


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr (exit 2), as for any other invalid input."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INVALID, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="registrar", description="Keeps the SageMaker Model Registry up to date.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def aws_options(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--endpoint-url",
            type=_endpoint_url,
            help="AWS endpoint, http(s)://host[:port] (default: AWS_ENDPOINT_URL, else AWS)",
        )
        command.add_argument("--region", type=_region, help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION)")

    for name, text in (
        ("plan", "print the UpdateModelPackage request an event leads to, without writing anything"),
        ("apply", "handle an event and write the update"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("event_file", metavar="EVENT_FILE", type=pathlib.Path, help="an EventBridge event (JSON)")
        command.add_argument("--policy", help="approval policy file (default: REGISTRAR_POLICY)")
        aws_options(command)

    sweep = commands.add_parser("sweep", help="register every Neo compilation job finished since the watermark")
    sweep.add_argument("--since", type=_timestamp, help="ISO-8601 time to sweep from (default: the lookback)")
    aws_options(sweep)

    policy = commands.add_parser("policy", help="policy tools")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True, metavar="SUBCOMMAND")
    check = policy_commands.add_parser("check", help="validate a policy file and say what each rule means")
    check.add_argument("file", metavar="FILE", type=pathlib.Path)

    emulator = commands.add_parser("emulator", help="run the embedded AWS emulator on loopback")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=_port, default=0, help="0 picks a free port")

    demo = commands.add_parser("demo", help="run the whole automation locally against the embedded emulator")
    demo.add_argument("--keep", action="store_true", help="leave the emulator running and print its endpoint")

    redrive = commands.add_parser("redrive", help="move a dead-letter queue's messages back to their source queue")
    redrive.add_argument("queue", metavar="QUEUE", help="the dead-letter queue's name or URL")
    redrive.add_argument(
        "--to",
        metavar="QUEUE",
        help="the queue to move messages to (default: the one queue whose redrive policy names QUEUE; "
        "required for a rule target's DLQ, which has none)",
    )
    aws_options(redrive)

    history = commands.add_parser("history", help="every version of a group, newest first, and what became of each")
    history.add_argument("group", metavar="GROUP", help="the model package group")
    history.add_argument("--limit", type=int, help="how many versions, newest first: 1-100 (default 20)")
    history.add_argument("--json", action="store_true", help="print a JSON list of versions instead of text")
    aws_options(history)

    rollback = commands.add_parser(
        "rollback", help="reject the group's champion and restore an older version, as a person"
    )
    rollback.add_argument("group", metavar="GROUP", help="the model package group")
    rollback.add_argument(
        "--to", metavar="VERSION", help="the version to restore (default: the newest older version Approved before)"
    )
    rollback.add_argument("--by", metavar="NAME", required=True, help="who decides (recorded as person:NAME)")
    rollback.add_argument("--reason", metavar="TEXT", required=True, help="why (written on both versions)")
    rollback.add_argument("--dry-run", action="store_true", help="print both planned requests; write nothing")
    rollback.add_argument("--force", action="store_true", help="restore --to even if it was never Approved")
    aws_options(rollback)

    link = commands.add_parser("link", help="mint a fresh decision link for one person and print its URL")
    link.add_argument(
        "model_package_arn", metavar="MODEL_PACKAGE_ARN", nargs="?", help="the version held for a decision"
    )
    link.add_argument(
        "--group", metavar="GROUP", help="instead of a version: the group's history page, allowing one rollback"
    )
    link.add_argument("--for", dest="recipient", metavar="EMAIL", required=True, help="whom the link is for")
    link.add_argument(
        "--ttl", metavar="DURATION", help="how long it stays valid: 7d, 12h, 30m; at most 30d (default 7d)"
    )
    link.add_argument("--page-url", metavar="URL", help="the decision page (default: REGISTRAR_DECISION_PAGE_URL)")
    link.add_argument("--secret", metavar="NAME", help="the signing keys' secret (default: REGISTRAR_SIGNING_SECRET)")
    aws_options(link)

    decide = commands.add_parser("decide", help="approve or reject a held version as a person")
    decide.add_argument("model_package_arn", metavar="MODEL_PACKAGE_ARN", help="the version held for a decision")
    verdict = decide.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--approve", action="store_true", help="approve it")
    verdict.add_argument("--reject", action="store_true", help="reject it")
    decide.add_argument("--by", metavar="NAME", required=True, help="who decides (recorded as person:NAME)")
    decide.add_argument("--comment", metavar="TEXT", help="why (written in the version's description)")
    aws_options(decide)

    serve = commands.add_parser("serve", help="serve the decision page locally, through its Lambda handler")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: loopback)")
    serve.add_argument("--port", type=_port, default=8080, help="the port (default 8080; 0 picks a free one)")
    aws_options(serve)
    return parser


def _timestamp(text: str) -> datetime:
    from registrar.events import parse_timestamp

    rule = "an ISO-8601 time (e.g. 2025-03-04T00:00:00Z) or epoch seconds, in years 1-9999"
    try:
        parsed = parse_timestamp(text)
    except (ValueError, OverflowError, OSError):
        raise argparse.ArgumentTypeError(f"{text!r} is not {rule}") from None
    if parsed is None:
        raise argparse.ArgumentTypeError(f"an empty time: give {rule}")
    if parsed > datetime.now(UTC):
        raise argparse.ArgumentTypeError(f"{text!r} is in the future: a sweep from it would find nothing")
    return parsed


def _endpoint_url(text: str) -> str:
    """An endpoint botocore accepts: http or https, a host, a port in range (checked here, not in a traceback)."""
    from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url

    rule = "an http:// or https:// URL with a host (e.g. http://127.0.0.1:4566)"
    try:
        parts = urllib.parse.urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError when the port is not a number in 0-65535
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not {rule}: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{text!r} is not {rule}")
    if not (is_valid_endpoint_url(text) or is_valid_ipv6_endpoint_url(text)):
        raise argparse.ArgumentTypeError(f"{text!r} is not {rule}: {parts.hostname!r} is not a valid host name")
    return text


def _region(text: str) -> str:
    if not _REGION.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an AWS region name (e.g. us-east-1)")
    return text


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number in 0-65535")
    return port


def _print_json(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, default=str) + "\n")
    sys.stdout.flush()


def _fail(message: str, status: int) -> int:
    sys.stderr.write(f"registrar: {message}\n")
    return status


class _InvalidFileError(Exception):
    """An event file that is not UTF-8 JSON; the message names the file."""


def _read_event(path: pathlib.Path) -> Any:
    """The JSON in ``path`` (UTF-8, with or without a BOM)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _InvalidFileError(
            f"{path}: not UTF-8 text (byte {error.object[error.start]:#04x} at offset {error.start}): "
            "save the event as UTF-8"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise _InvalidFileError(f"{path}: not JSON: {error}") from None
    except RecursionError:
        raise _InvalidFileError(f"{path}: JSON nested too deeply to read") from None


def _settings() -> Settings:
    from registrar.settings import Settings

    return Settings.from_environment()


def _plan_or_apply(args: argparse.Namespace, *, apply: bool) -> int:
    from registrar.decisions.announce import DecisionNotPublishedError
    from registrar_cli import flows

    try:
        settings = _settings()
        raw = _read_event(args.event_file)
    except RegistrarError as error:  # the environment's settings
        return _fail(str(error), EXIT_INVALID)
    except OSError as error:
        return _fail(f"cannot read {args.event_file}: {error.strerror}", EXIT_INVALID)
    except _InvalidFileError as error:
        return _fail(str(error), EXIT_INVALID)
    if args.policy:
        settings = settings.model_copy(update={"policy_file": args.policy})
    try:
        outcome = flows.handle(raw, settings=settings, apply=apply, endpoint_url=args.endpoint_url, region=args.region)
    except EventError as error:
        _print_json({"outcome": "invalid", "model_package_arn": None, "request": None, "reasons": [str(error)]})
        return _fail(str(error), EXIT_INVALID)
    except DeploymentError as error:  # the configuration's to fix, like AccessDenied: not an invalid event
        return _fail(f"{error}; fix the configuration, then apply the event again", EXIT_AWS)
    except DecisionNotPublishedError as error:
        return _fail(f"{error}; apply the event again once EventBridge accepts it", EXIT_AWS)
    except RegistrarError as error:
        return _fail(str(error), EXIT_INVALID)
    except (ClientError, BotoCoreError) as error:
        return _fail(f"AWS call failed: {error}", EXIT_AWS)
    _print_json(outcome.to_json_dict())
    return EXIT_INVALID if outcome.outcome == "invalid" else EXIT_OK


def _policy_check(args: argparse.Namespace) -> int:
    from registrar.approval.policy import describe_policy, load_policy

    try:
        policy = load_policy(args.file)
    except RegistrarError as error:
        return _fail(str(error), EXIT_INVALID)
    for line in describe_policy(policy):
        sys.stdout.write(line + "\n")
    return EXIT_OK


def _sweep(args: argparse.Namespace) -> int:
    from registrar.decisions.announce import DecisionNotPublishedError
    from registrar_cli.sweep import sweep_and_register

    try:
        settings = _settings()
    except RegistrarError as error:
        return _fail(str(error), EXIT_INVALID)
    try:
        for line in sweep_and_register(settings, since=args.since, endpoint_url=args.endpoint_url, region=args.region):
            _print_json(line)
    except DecisionNotPublishedError as error:
        return _fail(f"{error}; sweep again once EventBridge accepts it", EXIT_AWS)
    except RegistrarError as error:
        return _fail(str(error), EXIT_INVALID)
    except (ClientError, BotoCoreError) as error:
        return _fail(f"AWS call failed: {error}", EXIT_AWS)
    return EXIT_OK


def _redrive(args: argparse.Namespace) -> int:
    from registrar_cli.queues import MessageNotDeletedError, redrive

    moved = 0
    try:
        # Each line as its message moves: a long redrive shows progress, and an interrupted one has
        # already said which messages are back in the source queue.
        for message in redrive(args.queue, endpoint_url=args.endpoint_url, region=args.region, source=args.to):
            _print_json(message)
            moved += 1
    except RegistrarError as error:
        return _fail(str(error), EXIT_INVALID)
    except (MessageNotDeletedError, ClientError, BotoCoreError) as error:
        return _fail(f"AWS call failed after moving {moved} message(s): {error}", EXIT_AWS)
    sys.stderr.write(f"registrar: moved {moved} message(s)\n")
    return EXIT_OK


def _history(args: argparse.Namespace) -> int:
    from registrar.registry import Registry
    from registrar_cli import history

    try:
        checked = history.arguments(args.group, args.limit)
        registry = Registry(endpoint_url=args.endpoint_url, region=args.region)
        stories = history.history(checked.group, limit=checked.limit, registry=registry)
    except RegistrarError as error:
        return _fail(str(error), EXIT_INVALID)
    except (ClientError, BotoCoreError) as error:
        return _fail(f"AWS call failed: {error}", EXIT_AWS)
    if args.json:
        sys.stdout.write(json.dumps([story.to_json() for story in stories]) + "\n")
    else:
        sys.stdout.write("".join(line + "\n" for line in history.text(checked.group, stories)))
    return EXIT_OK


def _rollback(args: argparse.Namespace) -> int:
    from registrar.bus import PublishError
    from registrar.decisions.announce import announcer_for
    from registrar.registry import Registry
    from registrar_cli import rollback

    try:
        request = rollback.arguments(group=args.group, to=args.to, by=args.by, reason=args.reason, force=args.force)
        settings = _settings()
    except RegistrarError as error:
        return _fail(str(error), EXIT_INVALID)
    registry = Registry(endpoint_url=args.endpoint_url, region=args.region)
    announcer = announcer_for(settings, endpoint_url=args.endpoint_url, region=args.region)
    try:
        for outcome in rollback.rollback(request, registry=registry, announcer=announcer, apply=not args.dry_run):
            _print_json(outcome.to_json_dict())
    except PublishError as error:
        return _fail(f"the version was written, but its Registrar Decision was not published: {error}", EXIT_AWS)
    except RegistrarError as error:
        return _fail(str(error), EXIT_INVALID)
    except (ClientError, BotoCoreError) as error:
        return _fail(f"AWS call failed: {error}", EXIT_AWS)
    return EXIT_OK


def _link(args: argparse.Namespace) -> int:
    from registrar.decisions.links import load_signing_keys
    from registrar.registry import Registry
    from registrar_cli import link

    try:
        settings = _settings()
        request = link.arguments(
            model_package_arn=args.model_package_arn,
            group=args.group,
            recipient=args.recipient,
            ttl=args.ttl,
            page_url=args.page_url or os.environ.get(link.PAGE_URL_VARIABLE),
            secret=args.secret or settings.signing_secret,
        )
        keys = load_signing_keys(request.secret, endpoint_url=args.endpoint_url, region=args.region, max_age=0)
        registry = Registry(endpoint_url=args.endpoint_url, region=args.region)
        if request.group is not None:
            capability, url = link.group_link(
                request,
                describe_group=lambda name: registry.client.describe_model_package_group(ModelPackageGroupName=name),
                managed_groups=settings.managed_groups,
                keys=keys,
                now=datetime.now(UTC),
            )
        else:
            capability, url = link.link(request, registry=registry, keys=keys, now=datetime.now(UTC))
    except RegistrarError as error:
        return _fail(str(error), EXIT_INVALID)
    except (ClientError, BotoCoreError) as error:
        return _fail(f"AWS call failed: {error}", EXIT_AWS)
    sys.stdout.write(
        f"link for {capability.recipient} to {' or '.join(capability.actions)} {capability.subject}, "
        f"single use, until {capability.expires_at.isoformat()}:\n{url}\n"
    )
    return EXIT_OK


def _decide(args: argparse.Namespace) -> int:
    from registrar.decisions.announce import DecisionNotPublishedError, announcer_for
    from registrar.registry import Registry
    from registrar_cli import decide

    try:
        request = decide.arguments(
            model_package_arn=args.model_package_arn, approve=args.approve, by=args.by, comment=args.comment
        )
        settings = _settings()
    except RegistrarError as error:
        return _fail(str(error), EXIT_INVALID)
    registry = Registry(endpoint_url=args.endpoint_url, region=args.region)
    announcer = announcer_for(settings, endpoint_url=args.endpoint_url, region=args.region)
    try:
        outcome = decide.decide(request, registry=registry, announcer=announcer)
    except DecisionNotPublishedError as error:
        return _fail(f"{error}; run the same decide again once EventBridge accepts it", EXIT_AWS)
    except RegistrarError as error:
        return _fail(str(error), EXIT_INVALID)
    except (ClientError, BotoCoreError) as error:
        return _fail(f"AWS call failed: {error}", EXIT_AWS)
    _print_json(outcome.to_json_dict())
    if outcome.outcome != "updated":
        return _fail(f"nothing decided: {'; '.join(outcome.reasons)}", EXIT_INVALID)
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from registrar_cli.serve import serve

    try:
        _settings()  # the page's settings, checked before the first request
    except RegistrarError as error:
        return _fail(str(error), EXIT_INVALID)
    return serve(host=args.host, port=args.port, endpoint_url=args.endpoint_url, region=args.region)


# Commands that need the development extra (moto, the emulator, the local topology): registrar_dev runs them.
DEVELOPMENT_COMMANDS = ("emulator", "demo")


def _development_command(args: argparse.Namespace) -> int:
    """``registrar emulator`` and ``registrar demo``, from the dev package; one line and exit 2 without it."""
    import importlib

    try:
        commands = importlib.import_module("registrar_dev.commands")
        missing = commands.missing_requirements()
    except ModuleNotFoundError as error:
        missing = [error.name or "registrar_dev"]
    if missing:
        return _fail(
            f"`registrar {args.command}` needs the development extra ({' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not installed): "
            "pip install 'registrar[dev]', or make setup in a checkout",
            EXIT_INVALID,
        )
    status: int = commands.run(args)
    return status


# Commands that write to versions, each write announced through the decision journal when a table is configured.
WRITING_COMMANDS = ("apply", "sweep", "rollback", "decide")
# How long a command's staged decision is its own to publish: a run that died leaves it to the next after this.
CLI_WRITE_WINDOW = timedelta(minutes=2)


def _claim_write_window() -> contextvars.Token[datetime | None]:
    """Bound this run's claim on the decisions it stages (registrar.decisions.announce: a Lambda's is its timeout)."""
    from registrar.decisions.announce import invocation_deadline

    return invocation_deadline.set(datetime.now(UTC) + CLI_WRITE_WINDOW)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as stop:  # --help (0), or an invalid argument (2, its one line already written)
        return stop.code if isinstance(stop.code, int) else EXIT_INVALID
    if "endpoint_url" in vars(args) and args.endpoint_url is None and os.environ.get("AWS_ENDPOINT_URL"):
        try:
            _endpoint_url(os.environ["AWS_ENDPOINT_URL"])
        except argparse.ArgumentTypeError as error:
            return _fail(f"AWS_ENDPOINT_URL: {error}", EXIT_INVALID)
    if args.command in WRITING_COMMANDS:
        claim = _claim_write_window()
        try:
            return _run(args)
        finally:
            claim.var.reset(claim)
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    if args.command in ("plan", "apply"):
        return _plan_or_apply(args, apply=args.command == "apply")
    if args.command == "policy":
        return _policy_check(args)
    if args.command == "sweep":
        return _sweep(args)
    if args.command == "redrive":
        return _redrive(args)
    if args.command == "history":
        return _history(args)
    if args.command == "rollback":
        return _rollback(args)
    if args.command == "link":
        return _link(args)
    if args.command == "decide":
        return _decide(args)
    if args.command == "serve":
        return _serve(args)
    if args.command in DEVELOPMENT_COMMANDS:
        return _development_command(args)
    raise AssertionError(args.command)  # argparse's `required=True` makes this unreachable


if __name__ == "__main__":
    sys.exit(main())
