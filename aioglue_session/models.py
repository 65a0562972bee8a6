"""The GetSession reply as frozen attrs classes, and the one cattrs converter that maps them.

The converter is the single place that knows the wire shape: PascalCase names, epoch-second
timestamps, the nested ``{"Connections": {"Connections": [...]}}`` list, tolerant enums. Structuring
reads a reply; unstructuring gives back exactly what boto3's ``get_session()["Session"]`` holds,
edges included: a member sent as ``null`` is left out (botocore's JSON parser skips it), an empty
structure stays an empty structure.
"""

from __future__ import annotations

import enum
import functools
import types
import typing
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

__all__ = [
    "Session",
    "SessionChange",
    "SessionCommand",
    "SessionResult",
    "SessionStatus",
    "converter",
]


class SessionStatus(str, enum.Enum):
    """A session's status, a ``str`` enum: ``status == "READY"`` and ``status is
    SessionStatus.READY`` both work. A status this version does not know stays a plain string
    on ``Session.status``, never an error."""

    PROVISIONING = "PROVISIONING"
    READY = "READY"
    FAILED = "FAILED"
    TIMEOUT = "TIMEOUT"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"

    def __str__(self) -> str:
        return self.value


_STATUSES: dict[str, SessionStatus] = {s.value: s for s in SessionStatus}
TERMINAL_STATUSES = frozenset({SessionStatus.FAILED, SessionStatus.TIMEOUT, SessionStatus.STOPPED})


@attrs.frozen
class SessionCommand:
    """The command a session runs (the reply's ``Command``)."""

    name: str | None = None
    """``"glueetl"`` or ``"gluestreaming"`` (``Name``)."""
    python_version: str | None = None
    """The Python version, e.g. ``"3"`` (``PythonVersion``)."""


@attrs.frozen
class Session:
    """One Glue interactive session, as GetSession describes it.

    A frozen attrs class with one snake_case field per member of the reply's ``Session``
    (``CreatedOn`` is ``created_on``, ``DPUSeconds`` is ``dpu_seconds``). Every field but ``id``
    is ``None`` when the service leaves it out (or sends it as JSON ``null``); timestamps are
    timezone-aware ``datetime``s in UTC.
    """

    id: str
    """The session's id."""
    created_on: datetime | None = None
    """When the session was created."""
    status: SessionStatus | str | None = None
    """A [``SessionStatus``][aioglue_session.SessionStatus], or the plain string for a status
    this version does not know."""
    error_message: str | None = None
    """The error the session reported, if any."""
    description: str | None = None
    """The session's description."""
    role: str | None = None
    """The name or ARN of the IAM role the session runs as."""
    command: SessionCommand | None = None
    """The [``SessionCommand``][aioglue_session.SessionCommand]: its name and Python version."""
    default_arguments: Mapping[str, str] | None = None
    """The session's default arguments (``{"--enable-glue-datacatalog": "true"}``...)."""
    # ``"Connections": {}`` (the structure without its list) reads as no connections, like
    # ``{"Connections": []}``, but to_dict() gives each back as it came (NoConnectionsList), so
    # sessions compare by the value's type too.
    connections: Sequence[str] | None = attrs.field(default=None, eq=lambda v: (type(v), v))
    """The names of the connections the session uses (the list inside the reply's
    ``{"Connections": {"Connections": [...]}}``)."""
    progress: float | None = None
    """The code execution progress of the session."""
    max_capacity: float | None = None
    """The Glue data processing units (DPUs) that can be allocated to the session."""
    security_configuration: str | None = None
    """The name of the security configuration the session uses."""
    glue_version: str | None = None
    """The Glue version (``"4.0"``...), which sets the Spark and Python versions."""
    number_of_workers: int | None = None
    """The number of workers of ``worker_type``."""
    worker_type: str | None = None
    """The type of worker (``"G.1X"``, ``"G.2X"``, ``"Z.2X"``...)."""
    completed_on: datetime | None = None
    """When the session completed."""
    execution_time: float | None = None
    """The total time the session ran for."""
    dpu_seconds: float | None = None
    """The DPUs consumed by the session (``ExecutionTime * MaxCapacity``)."""
    idle_timeout: int | None = None
    """Minutes idle before the session times out."""
    profile_name: str | None = None
    """The name of the Glue usage profile associated with the session."""
    session_type: str | None = None
    """The type of the session."""

    def to_dict(self) -> dict[str, Any]:
        """The dict boto3's ``get_session(...)["Session"]`` returns for the same reply."""
        result: dict[str, Any] = converter.unstructure(self, Session)
        return result

    def to_json_dict(self) -> dict[str, Any]:
        """``to_dict()`` with its timestamps as ISO-8601 strings (``2024-05-01T12:00:00+00:00``):
        ready for ``json.dumps``, and what the command line prints."""
        result = self.to_dict()
        for name in _TIMESTAMP_KEYS:
            value = result.get(name)
            if value is not None:
                result[name] = value.isoformat()
        return result

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Session:
        """Build from the boto3-shaped dict (or a raw GetSession ``Session`` JSON object).

        Raises ``cattrs.BaseValidationError`` subclasses or ``ValueError`` / ``TypeError`` on a
        malformed dict (a reply from the service is checked by the client instead, which raises
        a ``GlueError`` coded ``InvalidReply`` naming the field).
        """
        return converter.structure(data, cls)


@attrs.frozen
class SessionResult:
    """One outcome of a bulk lookup (``get_sessions``): a session, or the error for that id."""

    id: str
    """The id looked up, as it came from ``ids``."""
    session: Session | None = None
    """The [``Session``][aioglue_session.Session], or ``None`` when the lookup failed."""
    error: BaseException | None = None
    """The exception ``get_session`` raised for this id (``EntityNotFoundException``, a
    network error after retries, ``ParamValidationError``...), or ``None``."""

    @property
    def ok(self) -> bool:
        """``True`` when there is a session and no error."""
        return self.error is None and self.session is not None


@attrs.frozen
class SessionChange:
    """One change of a watched session, as ``watch_sessions`` yields it.

    The first successful poll of an id gives its change with ``previous=None``; after that, a
    change is given when the status differs from the last one given (or, with
    ``changes="any"``, when any field does). ``final`` is ``True`` when the id is no longer
    watched after this change: its status is one of ``until``, or the session is gone or
    refused for good (``error`` says which).
    """

    id: str
    """The session's id, as it was given to the watch."""
    session: Session | None = None
    """The [``Session``][aioglue_session.Session] as last polled, or ``None`` with ``error``."""
    previous: SessionStatus | str | None = None
    """The status last given for this id (``None`` the first time)."""
    status: SessionStatus | str | None = None
    """``session.status``, or ``None`` when there is no session."""
    error: BaseException | None = None
    """Why the id is no longer watched (``EntityNotFoundException``, ``AccessDeniedException``,
    ``InvalidInputException``, ``ParamValidationError`` for an invalid id), else ``None``."""
    final: bool = False
    """``True`` when this id is no longer watched after this change."""


#: The members of ``to_dict()`` that hold a ``datetime``.
_TIMESTAMP_KEYS = ("CreatedOn", "CompletedOn")


# --- the converter -------------------------------------------------------------------------------


class NoConnectionsList(tuple[str, ...]):
    """``connections`` of a reply whose ``Connections`` structure came without its list.

    boto3 keeps ``"Connections": {}`` (and ``{"Connections": null}``) as the empty structure
    ``{}``; this empty sequence is how the model remembers that, so ``to_dict()`` gives ``{}``
    back rather than ``{"Connections": []}``.
    """

    __slots__ = ()


class WireTypeError(TypeError):
    """A reply value has the wrong JSON type for its field.

    ``where`` continues the field's path below the attribute that failed (``"Connections"`` for
    the list inside the ``Connections`` structure).
    """

    def __init__(self, message: str, where: str = "") -> None:
        super().__init__(message)
        self.where = where


def wire_name(name: str) -> str:
    """The wire (PascalCase) name of a model field."""
    if name == "dpu_seconds":
        return "DPUSeconds"
    return "".join(part.capitalize() for part in name.split("_"))


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _strict_str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    raise WireTypeError(f"expected a string, got {json_type(value)}")


def _strict_float(value: Any, _: Any) -> float:
    # An integer stays an int (as botocore keeps it): 50 and 50.0 are the same double, and an int
    # too large for a float is still the number that was sent.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    raise WireTypeError(f"expected a number, got {json_type(value)}")


def _strict_int(value: Any, _: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    # JSON has one number type; Glue sends integers, but 5.0 is still an integer.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise WireTypeError(f"expected an integer, got {json_type(value)} {value!r:.40}")


def _timestamp(value: Any, _: Any) -> datetime:
    """Epoch seconds (the JSON wire form), an ISO-8601 string, or a datetime -> aware UTC."""
    if value.__class__ is float or value.__class__ is int:  # the wire's form, decided first
        try:
            return datetime.fromtimestamp(value, timezone.utc)
        except (OverflowError, OSError, ValueError) as exc:
            raise WireTypeError(f"timestamp out of range: {value!r}") from exc
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, timezone.utc)
        except (OverflowError, OSError, ValueError) as exc:
            raise WireTypeError(f"timestamp out of range: {value!r}") from exc
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            try:
                return _timestamp(float(value), None)
            except ValueError as exc:
                raise WireTypeError(f"not a timestamp: {value[:40]!r}") from exc
        return _timestamp(parsed, None)
    raise WireTypeError(f"expected a timestamp, got {json_type(value)}")


def _status(value: Any, _: Any) -> SessionStatus | str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise WireTypeError(f"expected a string, got {json_type(value)}")
    # A status this version does not know yet is kept as the string, never an error.
    return _STATUSES.get(value, value)


def _string_map(value: Any, _: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if value.__class__ is not dict and not isinstance(value, Mapping):
        raise WireTypeError(f"expected an object, got {json_type(value)}")
    for k, v in value.items():
        if not isinstance(v, str):
            # botocore would keep a null or a number here; the model promises strings.
            raise WireTypeError(f"expected string values, got {json_type(v)} for key {k!r:.60}")
        if not isinstance(k, str):  # never from JSON; from_dict may be handed anything
            raise WireTypeError(f"expected string keys, got {k!r:.60}")
    return dict(value)


def _connections_in(value: Any, _: Any) -> tuple[str, ...] | None:
    # The wire nests the list in a structure: {"Connections": {"Connections": ["a", "b"]}}.
    if value is None:
        return None
    if value.__class__ is not dict and not isinstance(value, Mapping):
        raise WireTypeError(f"expected an object, got {json_type(value)}")
    inner = value.get("Connections")
    if inner is None:
        return NoConnectionsList()
    if not isinstance(inner, (list, tuple)):
        # botocore would iterate a string or an object into a list of its characters or keys.
        raise WireTypeError(f"expected an array, got {json_type(inner)}", "Connections")
    for i, item in enumerate(inner):
        if not isinstance(item, str):
            raise WireTypeError(f"expected strings, got {json_type(item)} at [{i}]", "Connections")
    return tuple(inner)


def _connections_out(value: Sequence[str]) -> dict[str, list[str]]:
    if isinstance(value, NoConnectionsList):
        return {}
    return {"Connections": list(value)}


def _overrides(cls: type[Any]) -> dict[str, Any]:
    overrides = {f.name: override(rename=wire_name(f.name)) for f in attrs.fields(cls)}
    if cls is Session:
        overrides["connections"] = override(
            rename="Connections", struct_hook=_connections_in, unstruct_hook=_connections_out
        )
        overrides["default_arguments"] = override(
            rename="DefaultArguments", struct_hook=_string_map, unstruct_hook=dict
        )
        overrides["status"] = override(rename="Status", struct_hook=_status)
    return overrides


# JSON null is "not sent" (botocore's parser skips a null member), so every optional hook lets
# None through; the fast ones below decide the common types without a call to cattrs.


def _optional_str(value: Any, _: Any) -> str | None:
    if value is None or value.__class__ is str:
        return value
    return _strict_str(value, _)


def _optional_float(value: Any, _: Any) -> float | None:
    if value is None or value.__class__ is float:
        return value
    return _strict_float(value, _)


def _optional_int(value: Any, _: Any) -> int | None:
    if value is None or value.__class__ is int:
        return value
    return _strict_int(value, _)


_OPTIONAL_FAST = {str: _optional_str, float: _optional_float, int: _optional_int}


def _make_converter(detailed: bool) -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=detailed, forbid_extra_keys=False)
    conv.register_structure_hook(str, _strict_str)
    conv.register_structure_hook(float, _strict_float)
    conv.register_structure_hook(int, _strict_int)
    conv.register_structure_hook(datetime, _timestamp)
    conv.register_unstructure_hook(datetime, lambda dt: dt)  # boto3 hands back datetimes
    conv.register_unstructure_hook(SessionStatus, lambda s: s.value)

    # cattrs generates (compiles) each class's functions the first time the class is converted,
    # not at import: a process that never calls to_dict() never pays for it.
    def is_model(cls: Any) -> bool:
        return cls is Session or cls is SessionCommand

    def structure_fn(cls: type[Any]) -> Any:
        return make_dict_structure_fn(
            cls, conv, _cattrs_detailed_validation=detailed, **_overrides(cls)
        )

    def unstructure_fn(cls: type[Any]) -> Any:
        return make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=True, **_overrides(cls))

    conv.register_structure_hook_factory(is_model, structure_fn)

    def is_optional(cls: Any) -> bool:
        args = typing.get_args(cls)
        return (
            typing.get_origin(cls) in (typing.Union, types.UnionType)
            and len(args) == 2
            and type(None) in args
        )

    def optional_fn(cls: Any) -> Any:
        # X | None straight to X's hook: cattrs' generic optional handler dispatches per value.
        inner_type = next(arg for arg in typing.get_args(cls) if arg is not type(None))
        fast = _OPTIONAL_FAST.get(inner_type)
        if fast is not None:
            return fast
        inner = structure_hook(conv, inner_type)
        if is_model(inner_type):

            def structure_optional_model(value: Any, _: Any) -> Any:
                if value is None:
                    return None
                # The generated function would read a string or a list as an empty structure
                # ("Name" in "glueetl" is a substring test): refuse anything but an object.
                if value.__class__ is not dict and not isinstance(value, Mapping):
                    raise WireTypeError(f"expected an object, got {json_type(value)}")
                return inner(value, inner_type)

            return structure_optional_model

        def structure_optional(value: Any, _: Any) -> Any:
            return None if value is None else inner(value, inner_type)

        return structure_optional

    conv.register_structure_hook_factory(is_optional, optional_fn)
    conv.register_unstructure_hook_factory(is_model, unstructure_fn)
    if not detailed:
        conv.register_structure_hook_factory(
            lambda cls: cls is Session, lambda cls: _fast_structure_fn(cls, conv)
        )
    return conv


def structure_hook(conv: cattrs.Converter, type_: Any) -> Any:
    """The converter's structure hook for ``type_``: ``get_structure_hook`` (cattrs 24.1 and
    later), else the dispatch behind ``structure()`` that it wraps (cattrs 23.2)."""
    get_hook = getattr(conv, "get_structure_hook", None)
    if get_hook is not None:
        return get_hook(type_)
    dispatch: Any = conv._structure_func  # pragma: no cover - cattrs < 24.1
    return dispatch.dispatch(type_)  # pragma: no cover


def _fast_structure_fn(cls: type[Any], conv: cattrs.Converter) -> Any:
    """The structure function for ``cls``, generated like cattrs' own from the same renames and
    hooks, but straight-line: each member is read once, a value that already has its field's
    exact wire type is taken without a call (a string, a float, an int; an epoch-seconds float
    goes straight to ``datetime.fromtimestamp``, a status string to its enum member, a
    ``Command`` object to the same generated function for ``SessionCommand``), a JSON ``null``
    or a missing member is ``None`` (every field's default), and the instance is built with
    positional arguments. Any other value goes to the field's cattrs hook, so the result is
    always the hooks' (``tests/test_protocol_fuzz.py`` checks it against cattrs' own
    functions); anything that cannot be read raises, and ``protocol.parse_reply`` then names
    the field with the detailed converter.
    """
    hints = typing.get_type_hints(cls)
    overrides = _overrides(cls)
    fields = attrs.fields(cls)
    if any(not f.init or f.default is not None for f in fields[1:]):  # pragma: no cover
        raise TypeError(f"{cls.__name__}: every field but the first must default to None")
    lines = ["def structure(o, _):", "    g = o.get"]
    namespace: dict[str, Any] = {
        "cls": cls,
        "fromtimestamp": datetime.fromtimestamp,
        "utc": timezone.utc,
        "statuses": _STATUSES,
    }
    names = []
    for i, field in enumerate(fields):
        hint = hints[field.name]
        override_ = overrides[field.name]
        key = override_.rename or field.name
        hook = override_.struct_hook or structure_hook(conv, hint)
        namespace[f"h{i}"], namespace[f"t{i}"] = hook, hint
        args = typing.get_args(hint)
        inner = next((a for a in args if a is not type(None)), hint) if args else hint
        name = f"v{i}"
        names.append(name)
        lines.append(f"    {name} = g({key!r})")
        # The exact wire type first (one test in the common case), then None (missing or JSON
        # null: the default), then the hook. A required field (the first) has no default to fall
        # back on: its hook refuses None.
        absent = f" and {name} is not None" if field.default is None else ""
        slow = f"{name} = h{i}({name}, t{i})"
        if override_.struct_hook is _status:
            test, take = f"type({name}) is str", f"{name} = statuses.get({name}, {name})"
        elif inner in (str, float, int) and override_.struct_hook is None:
            namespace[f"x{i}"] = inner
            lines.append(f"    if type({name}) is not x{i}{absent}: {slow}")
            continue
        elif inner is datetime:
            test, take = f"type({name}) is float", f"{name} = fromtimestamp({name}, utc)"
        elif inner is SessionCommand:
            namespace[f"m{i}"] = _fast_structure_fn(SessionCommand, conv)
            test, take = f"type({name}) is dict", f"{name} = m{i}({name}, None)"
        else:
            lines.append(f"    if {name} is not None: {slow}")
            continue
        lines.append(f"    if {test}: {take}")
        lines.append(f"    elif {name} is not None: {slow}" if absent else f"    else: {slow}")
    lines.append(f"    return cls({', '.join(names)})")
    exec(
        compile("\n".join(lines), f"<aioglue_session structure {cls.__name__}>", "exec"), namespace
    )
    return namespace["structure"]


#: The converter: wire/boto3 dicts <-> models. Fast path, no per-field error bookkeeping.
converter = _make_converter(detailed=False)


@functools.cache
def detailed_converter() -> cattrs.Converter:
    """The same mapping with cattrs' detailed validation; only used to name a bad reply's field."""
    return _make_converter(detailed=True)
