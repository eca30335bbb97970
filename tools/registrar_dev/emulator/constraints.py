"""The service model's constraints on a request, checked as SageMaker checks them on its side.

botocore checks only required members, types and minimum lengths before it sends a request; maximum
lengths, patterns and enums are the service's to enforce, and come back as ``ValidationException``
(docs/sagemaker.md#validation). moto checks almost none of them. :func:`violations` walks a request through an
operation's input shape, as botocore loads it from its service model, and lists every constraint the
request breaks: ``required`` members, ``min``/``max`` (string length, list length, map entry count,
number range), ``pattern`` and ``enum``, nested structures, lists and maps included.

The rules come from botocore's model, never from registrar's own request types: the emulator is an
independent check of registrar's validation.

The model's patterns are Java regular expressions, matched against the whole value. :func:`java_pattern`
translates the few constructs Python's :mod:`re` reads differently: ``\\p{L}``-style Unicode categories
(expanded from :mod:`unicodedata`), ``.`` (which in Java matches no line terminator), a quantified ``$``
(``${1,128}`` in the metadata patterns), and ``\\w``/``\\d``/``\\s`` (ASCII-only in Java). A pattern it
cannot translate is skipped, not guessed at.

Messages follow the service's: ``Value '...' at 'approvalDescription' failed to satisfy constraint:
Member must have length less than or equal to 1024``.
"""

from __future__ import annotations

import functools
import itertools
import re
import sys
import unicodedata
from collections.abc import Mapping
from typing import Any

# Longest value quoted in a message, and most enum values listed.
_SHOWN_CHARS = 100
_SHOWN_ENUM_VALUES = 10

# Java's `.` without DOTALL: anything but a line terminator.
_JAVA_DOT = "[^\\n\\r\\x85\\u2028\\u2029]"
_QUANTIFIER = re.compile(r"\{\d+(,\d*)?\}|[*+?]")
_NUMBER_TYPES = ("integer", "long", "float", "double")


@functools.cache
def _unicode_categories() -> dict[str, str]:
    """Each Unicode general category, one and two letters (``L``, ``Lu``), as ``re`` class ranges."""
    categories = list(map(unicodedata.category, map(chr, range(sys.maxunicode + 1))))
    runs: dict[str, list[tuple[int, int]]] = {}
    start = 0
    for category, group in itertools.groupby(categories):
        end = start + len(list(group)) - 1
        for name in (category, category[0]):
            ranges = runs.setdefault(name, [])
            if ranges and ranges[-1][1] == start - 1:
                ranges[-1] = (ranges[-1][0], end)
            else:
                ranges.append((start, end))
        start = end + 1
    return {
        name: "".join(_char(first) if first == last else f"{_char(first)}-{_char(last)}" for first, last in ranges)
        for name, ranges in runs.items()
    }


def _char(code: int) -> str:
    return f"\\U{code:08x}"


def java_pattern(pattern: str) -> re.Pattern[str] | None:
    """Compile a service-model (Java) regular expression for ``re.fullmatch``.

    Parameters
    ----------
    pattern
        The model's pattern.

    Returns
    -------
    re.Pattern or None
        The pattern as Python reads it; ``None`` when it uses a construct this translation does not
        know (a nested or intersected class, ``\\P{..}`` inside a class, an unknown category, or
        anything Python refuses): such a pattern is not checked.
    """
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            escape = pattern[i + 1 : i + 2]
            if escape in ("p", "P"):
                end = pattern.find("}", i)
                if pattern[i + 2 : i + 3] != "{" or end < 0:
                    return None
                ranges = _unicode_categories().get(pattern[i + 3 : end].removeprefix("Is"))
                if ranges is None or (in_class and escape == "P"):
                    return None
                negated = "^" if escape == "P" else ""
                out.append(ranges if in_class else f"[{negated}{ranges}]")
                i = end + 1
                continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if char == "[" or pattern.startswith("&&", i):
                return None
            in_class = char != "]"
            out.append(char)
        elif char == "[":
            in_class = True
            out.append(char)
        elif char == ".":
            out.append(_JAVA_DOT)
        elif char == "$" and (quantifier := _QUANTIFIER.match(pattern, i + 1)):
            # `${1,128}`: a quantified zero-width assertion, which Python refuses; it asserts the end once.
            out.append(char)
            i = quantifier.end()
            continue
        else:
            out.append(char)
        i += 1
    try:
        return re.compile("".join(out), re.ASCII)  # Java's \w, \d and \s are ASCII-only
    except re.error:
        return None  # Not a pattern Python can read: unchecked rather than checked wrongly.


class Shape:
    """The compiled constraints of one shape of a service model.

    Parameters
    ----------
    type_name
        The shape's type: ``structure``, ``list``, ``map``, ``string``, ``integer``, ...
    metadata
        The shape's constraints as botocore loads them (``min``, ``max``, ``pattern``, ``enum``,
        ``required``, ``sensitive``).
    """

    __slots__ = (
        "enum",
        "enum_text",
        "key",
        "max",
        "member",
        "members",
        "min",
        "pattern",
        "pattern_text",
        "required",
        "sensitive",
        "type_name",
        "value",
    )

    def __init__(self, type_name: str, metadata: Mapping[str, Any]) -> None:
        self.type_name = type_name
        self.min: int | float | None = metadata.get("min")
        self.max: int | float | None = metadata.get("max")
        self.pattern_text: str | None = metadata.get("pattern")
        self.pattern = java_pattern(self.pattern_text) if self.pattern_text is not None else None
        values: list[str] | None = metadata.get("enum")
        self.enum = frozenset(values) if values else None
        self.enum_text = _enum_text(values) if values else ""
        self.required: tuple[str, ...] = tuple(metadata.get("required", ()))
        self.sensitive = bool(metadata.get("sensitive"))
        self.members: dict[str, Shape] = {}
        self.member: Shape | None = None
        self.key: Shape | None = None
        self.value: Shape | None = None


def _enum_text(values: list[str]) -> str:
    shown = ", ".join(values[:_SHOWN_ENUM_VALUES])
    if len(values) > _SHOWN_ENUM_VALUES:
        shown += f", ... ({len(values)} values)"
    return f"[{shown}]"


def compile_shape(shape: Any, compiled: dict[str, Shape] | None = None) -> Shape:
    """Compile a botocore shape and every shape it reaches.

    Parameters
    ----------
    shape
        A ``botocore.model.Shape``.
    compiled
        Shapes compiled so far, by name: a shape reached twice (or recursively) is compiled once.

    Returns
    -------
    Shape
        The compiled shape.
    """
    compiled = {} if compiled is None else compiled
    if shape.name in compiled:
        return compiled[shape.name]
    node = Shape(shape.type_name, shape.metadata)
    compiled[shape.name] = node
    if shape.type_name == "structure":
        node.members = {name: compile_shape(member, compiled) for name, member in shape.members.items()}
    elif shape.type_name == "list":
        node.member = compile_shape(shape.member, compiled)
    elif shape.type_name == "map":
        node.key = compile_shape(shape.key, compiled)
        node.value = compile_shape(shape.value, compiled)
    return node


@functools.cache
def input_shape(service: str, operation: str) -> Shape:
    """The compiled input shape of an operation, from botocore's service model (built once per process).

    Parameters
    ----------
    service
        The botocore service name, e.g. ``sagemaker``.
    operation
        The operation, e.g. ``UpdateModelPackage``.

    Returns
    -------
    Shape
        Its input shape, compiled.
    """
    import botocore.session

    model = botocore.session.get_session().get_service_model(service)
    return compile_shape(model.operation_model(operation).input_shape)


def violations(shape: Shape, value: Any, path: str) -> list[str]:
    """List the constraints of ``shape`` that ``value`` breaks.

    Parameters
    ----------
    shape
        The compiled shape.
    value
        The request's value (JSON-like); a value of the wrong type is left to the client's checks.
    path
        Where the value is, as the service names it (``customerMetadataProperties``).

    Returns
    -------
    list of str
        One message per broken constraint, ``Value '...' at '<path>' failed to satisfy constraint: ...``.
    """
    found: list[str] = []
    _check(shape, value, path, found)
    return found


def member_path(parent: str, member: str) -> str:
    """The service's name for a member: lower camel case, dotted after its parent's.

    Parameters
    ----------
    parent
        The parent's path, ``""`` at the top of the request.
    member
        The member's name in the model.

    Returns
    -------
    str
        E.g. ``inferenceSpecification.containers``.
    """
    name = member[:1].lower() + member[1:]
    return f"{parent}.{name}" if parent else name


def message(problems: list[str]) -> str:
    """The message of a ``ValidationException`` listing ``problems``, as the service words it.

    Parameters
    ----------
    problems
        Messages from :func:`violations`.

    Returns
    -------
    str
        ``N validation error(s) detected: <problem>; <problem>``.
    """
    noun = "error" if len(problems) == 1 else "errors"
    return f"{len(problems)} validation {noun} detected: {'; '.join(problems)}"


def failure(shape: Shape | None, value: Any, path: str, rule: str) -> str:
    """One problem: ``value`` at ``path`` breaks ``rule``.

    Parameters
    ----------
    shape
        The value's shape; a ``sensitive`` value is not quoted.
    value
        The value.
    path
        Where it is.
    rule
        The broken rule, e.g. ``Member must have length less than or equal to 16``.

    Returns
    -------
    str
        The problem as the service states it.
    """
    subject = "Value" if shape is not None and shape.sensitive else f"Value '{_shown(value)}'"
    return f"{subject} at '{path}' failed to satisfy constraint: {rule}"


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= _SHOWN_CHARS else f"{text[:_SHOWN_CHARS]}... ({len(text)} characters)"


def _length_rules(shape: Shape, length: int | float, word: str) -> list[str]:
    rules = []
    if shape.min is not None and length < shape.min:
        rules.append(f"Member must have {word} greater than or equal to {shape.min}")
    if shape.max is not None and length > shape.max:
        rules.append(f"Member must have {word} less than or equal to {shape.max}")
    return rules


def _scalar_rules(shape: Shape, value: Any) -> list[str]:
    if shape.type_name == "string" and isinstance(value, str):
        rules = _length_rules(shape, len(value), "length")
        if shape.enum is not None and value not in shape.enum:
            rules.append(f"Member must satisfy enum value set: {shape.enum_text}")
        if shape.pattern is not None and shape.pattern.fullmatch(value) is None:
            rules.append(f"Member must satisfy regular expression pattern: {shape.pattern_text}")
        return rules
    if shape.type_name in _NUMBER_TYPES and isinstance(value, int | float) and not isinstance(value, bool):
        return _length_rules(shape, value, "value")
    return []


def _check(shape: Shape, value: Any, path: str, found: list[str]) -> None:
    if shape.type_name == "structure":
        if not isinstance(value, Mapping):
            return
        for name in shape.required:
            if value.get(name) is None:
                found.append(
                    f"Value null at '{member_path(path, name)}' failed to satisfy constraint: Member must not be null"
                )
        for name, item in value.items():
            member = shape.members.get(name)
            if member is not None and item is not None:
                _check(member, item, member_path(path, name), found)
    elif shape.type_name == "list":
        if not isinstance(value, list):
            return
        found.extend(failure(shape, value, path, rule) for rule in _length_rules(shape, len(value), "length"))
        assert shape.member is not None
        for index, item in enumerate(value, start=1):
            if item is not None:
                _check(shape.member, item, f"{path}.{index}.member", found)
    elif shape.type_name == "map":
        if not isinstance(value, Mapping):
            return
        found.extend(failure(shape, value, path, rule) for rule in _length_rules(shape, len(value), "length"))
        assert shape.key is not None and shape.value is not None
        for key, item in value.items():
            for part, checked, shown in (("keys", shape.key, key), ("value", shape.value, item)):
                rules = _scalar_rules(checked, shown)
                if rules:
                    found.append(
                        failure(checked, shown, path, f"Map {part} must satisfy constraint: [{', '.join(rules)}]")
                    )
            if shape.value.type_name in ("structure", "list", "map") and item is not None:
                _check(shape.value, item, f"{path}.{key}", found)
    else:
        found.extend(failure(shape, value, path, rule) for rule in _scalar_rules(shape, value))
