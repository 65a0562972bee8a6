"""Differential test: generated GetSession replies read by botocore's parser and by this library.

Each reply goes through ``botocore.parsers.create_parser("json")`` with Glue's ``GetSession``
output shape (what boto3 runs) and through ``parse_reply``; the two are compared under the
contract's rules:

- a success reply whose document fits the shape: ``Session.to_dict()`` equals botocore's
  ``["Session"]``, and ``Session.from_dict`` gives the same session back;
- a document that does not fit (or one botocore raises on): ``InvalidReply`` naming a bad field;
- an error reply: botocore's code wherever botocore finds one, else the fallback (the
  ``x-amzn-ErrorType`` header, the JSON body's ``code``, an XML ``<Code>``, the status); botocore's
  message for a JSON object body, else an excerpt of the body.

A case where the two differ for a reason the contract gives is counted under that reason in
``DIFFERENCES`` (the table of deliberate differences); any other difference fails the test.
``test_summary`` prints the counts. CI runs ``AIOGLUE_FUZZ_EXAMPLES`` (default 1,500) replies per
property; set it higher for a longer run.
"""

from __future__ import annotations

import copy
import http.client
import json
import os
import re
from collections import Counter
from datetime import datetime, timezone
from typing import Any

import botocore.session
import pytest
from botocore.awsrequest import HeadersDict
from botocore.model import Shape
from botocore.parsers import create_parser
from faultserver import session_document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aioglue_session import Session, errors
from aioglue_session.protocol import parse_reply

EXAMPLES = int(os.environ.get("AIOGLUE_FUZZ_EXAMPLES", "1500"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

OUTPUT_SHAPE = (
    botocore.session.get_session()
    .get_service_model("glue")
    .operation_model("GetSession")
    .output_shape
)
SESSION_SHAPE: Shape = OUTPUT_SHAPE.members["Session"]  # type: ignore[attr-defined]
PARSER = create_parser("json")
#: Whether the installed botocore drops a ``__type``'s ``:uri`` suffix (botocore 1.34 does not).
STRIPS_URI_SUFFIX = (
    PARSER.parse(
        {"status_code": 400, "headers": HeadersDict(), "body": b'{"__type": "A:http://b/"}'},
        OUTPUT_SHAPE,
    )["Error"]["Code"]
    == "A"
)
EXCERPT_LEN = 200  # the contract's "short excerpt": the first 200 bytes, whitespace collapsed

#: Replies compared, and the cases counted under each row of the table of deliberate differences
#: (rows starting "same:" are cases where both sides agree).
RESULTS: Counter[str] = Counter()

# A Session document as Glue sends it.
# A full, realistic reply document: the one the fault and benchmark servers send.
# Restricted to the members the installed botocore's Glue model has: an older model (1.34) lacks
# the newest (ProfileName, SessionType), which its parser drops.
REALISTIC: dict[str, Any] = {
    name: value
    for name, value in session_document("etl-session-1").items()
    if name in SESSION_SHAPE.members  # type: ignore[attr-defined]
}
assert list(REALISTIC) == list(SESSION_SHAPE.members)  # type: ignore[attr-defined]


def botocore_parse(status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """What boto3's client does with the reply: the json parser over GetSession's output shape."""
    response = {
        "status_code": status,
        "headers": HeadersDict(headers),  # case-insensitive, as botocore's AWSResponse headers
        "body": body,
        "context": {"operation_name": "GetSession"},
    }
    parsed: dict[str, Any] = PARSER.parse(response, OUTPUT_SHAPE)
    return parsed


def ours(status: int, headers: dict[str, str], body: bytes) -> Session | errors.GlueError:
    """parse_reply's outcome; any exception but GlueError fails the test."""
    try:
        return parse_reply(status, headers, body)
    except errors.GlueError as exc:
        return exc


# --- the contract's rules, written from the botocore shape (not from the implementation) --------


def misfits(shape: Shape, value: Any, path: str) -> list[str]:
    """Paths where ``value`` does not fit ``shape`` under the contract; null is "not sent".

    Strings are strings, numbers are numbers (not booleans), integers are integral, timestamps are
    numbers (strings are judged separately), structures and maps are objects, lists are arrays,
    and a list's items and a map's values are never null.
    """
    if value is None:
        return []
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [path]
        found: list[str] = []
        for name, member in shape.members.items():  # type: ignore[attr-defined]
            found += misfits(member, value.get(name), f"{path}.{name}")
        return found
    if kind == "map":
        if not isinstance(value, dict):
            return [path]
        value_shape = shape.value  # type: ignore[attr-defined]
        return (
            [path]
            if any(v is None or misfits(value_shape, v, path) for v in value.values())
            else []
        )
    if kind == "list":
        if not isinstance(value, list):
            return [path]
        item = shape.member  # type: ignore[attr-defined]
        return [path] if any(v is None or misfits(item, v, path) for v in value) else []
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    fits = {
        "string": isinstance(value, str),
        "double": is_number,
        "integer": is_number and float(value).is_integer(),
        "timestamp": is_number or isinstance(value, str),
    }[kind]
    return [] if fits else [path]


def timestamp_strings(session: dict[str, Any]) -> list[str]:
    return [
        name
        for name, shape in SESSION_SHAPE.members.items()  # type: ignore[attr-defined]
        if shape.type_name == "timestamp" and isinstance(session.get(name), str)
    ]


def named_field(err: errors.GlueError) -> str:
    match = re.search(r"malformed field (Session(?:\.\w+)*)", err.message)
    assert match, f"InvalidReply names no field: {err.message!r}"
    return match.group(1)


def value_at(session: dict[str, Any], path: str) -> Any:
    value: Any = {"Session": session}
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def as_utc(value: Any) -> Any:
    """botocore's dict with naive datetimes (a zone-less date string) read as UTC, as ours does."""
    if isinstance(value, dict):
        return {k: as_utc(v) for k, v in value.items()}
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def has_naive(value: Any) -> bool:
    if isinstance(value, dict):
        return any(has_naive(v) for v in value.values())
    return isinstance(value, datetime) and value.tzinfo is None


# --- success replies -----------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
timestamp_texts = st.sampled_from(
    [
        "2024-11-23T22:13:20Z",
        "2024-11-23T22:13:20.123+01:00",
        "2024-11-23T22:13:20",  # no zone: botocore gives a naive datetime
        "2024-11-23",
        "1732400000",
        "1732400000.5",
        "Sat, 23 Nov 2024 22:13:20 GMT",  # RFC 822: botocore's dateutil reads it
        "yesterday",
        "",
        "nan",
    ]
)


def fitting(shape: Shape) -> st.SearchStrategy[Any]:
    """Values that fit the shape, edges included (empty structures, null members, unknown keys)."""
    kind = shape.type_name
    if kind == "string":
        enum = shape.metadata.get("enum")
        if enum:  # known values, and ones this version does not know
            return st.sampled_from(enum) | st.text(max_size=10)
        return st.text(max_size=20)
    if kind == "integer":
        return st.integers(min_value=-(2**63), max_value=2**63) | st.integers(0, 100).map(float)
    if kind == "double":
        return st.floats(allow_nan=False) | st.integers(min_value=-(2**70), max_value=2**70)
    if kind == "timestamp":
        return st.floats(min_value=-2e9, max_value=4e9) | st.integers(0, 2**32)
    if kind == "structure":
        members = shape.members  # type: ignore[attr-defined]
        return st.fixed_dictionaries(
            {},
            optional={name: st.none() | fitting(m) for name, m in members.items()}
            | {"Unknown": json_values},
        )
    if kind == "map":
        return st.dictionaries(st.text(max_size=10), fitting(shape.value), max_size=3)  # type: ignore[attr-defined]
    assert kind == "list"
    return st.lists(fitting(shape.member), max_size=3)  # type: ignore[attr-defined]


def misfitting(shape: Shape) -> st.SearchStrategy[Any]:
    """Values of the wrong JSON type for the shape (botocore passes many through unchecked)."""
    kind = shape.type_name
    others = (
        st.booleans()
        | st.lists(json_scalars, max_size=2)
        | st.dictionaries(st.text(max_size=4), json_scalars, max_size=2)
    )
    if kind == "string":
        return others | st.integers() | st.floats(allow_nan=False)
    if kind in ("integer", "double"):
        wrong = others | st.text(max_size=6)
        if kind == "integer":
            wrong |= st.floats(allow_nan=False).filter(lambda f: not f.is_integer())
        return wrong
    if kind == "timestamp":
        # Strings go to timestamp_texts; out-of-range numbers fit the type but not a datetime.
        return others | timestamp_texts | st.sampled_from([1e20, -1e20, 3e11, float("inf")])
    if kind == "structure":
        return st.text(max_size=8) | st.lists(st.text(max_size=4), max_size=2) | st.integers()
    if kind == "map":
        bad_value = st.none() | st.integers() | st.booleans() | st.lists(st.text(), max_size=1)
        return (
            st.text(max_size=8)
            | st.lists(st.text(max_size=4), max_size=2)
            | st.dictionaries(st.text(max_size=6), bad_value, min_size=1, max_size=2)
        )
    assert kind == "list"
    bad_item = (
        st.none() | st.integers() | st.dictionaries(st.text(max_size=3), st.text(), max_size=1)
    )
    return (
        st.text(min_size=1, max_size=8)  # botocore would iterate it into characters
        | st.dictionaries(st.text(max_size=4), st.text(max_size=4), min_size=1, max_size=2)
        | st.lists(st.text(max_size=4) | bad_item, min_size=1, max_size=3).filter(
            lambda items: any(not isinstance(i, str) for i in items)
        )
    )


def nested_misfit(shape: Shape) -> st.SearchStrategy[Any]:
    """A fitting value that goes wrong inside: ``{"Name": 5}``, ``{"a": null}``, ``["a", null]``."""
    kind = shape.type_name
    if kind == "structure":
        members = shape.members  # type: ignore[attr-defined]
        return st.sampled_from(sorted(members)).flatmap(
            lambda name: st.tuples(
                fitting(shape), nested_misfit(members[name]) | misfitting(members[name])
            ).map(lambda pair: {**pair[0], name: pair[1]})
        )
    if kind == "map":
        bad = st.none() | misfitting(shape.value)  # type: ignore[attr-defined]
        return st.tuples(fitting(shape), st.text(max_size=6), bad).map(
            lambda t: {**t[0], t[1]: t[2]}
        )
    if kind == "list":
        bad = st.none() | misfitting(shape.member)  # type: ignore[attr-defined]
        return st.tuples(fitting(shape), bad, st.integers(0, 3)).map(
            lambda t: [*t[0][: t[2]], t[1], *t[0][t[2] :]]
        )
    return misfitting(shape)


@st.composite
def session_documents(draw: st.DrawFn) -> dict[str, Any]:
    """The realistic document with up to five members dropped, null, varied or of a wrong type."""
    doc = copy.deepcopy(REALISTIC)
    members = SESSION_SHAPE.members  # type: ignore[attr-defined]
    for name in draw(st.sets(st.sampled_from(sorted(members)), max_size=5)):
        how = draw(st.sampled_from(["drop", "null", "fit", "fit", "fit", "misfit", "nested"]))
        if how == "drop":
            del doc[name]
        elif how == "null":
            doc[name] = None
        elif how == "fit":
            doc[name] = draw(fitting(members[name]))
        elif how == "misfit":
            doc[name] = draw(misfitting(members[name]))
        else:
            doc[name] = draw(nested_misfit(members[name]))
    if draw(st.integers(0, 3)) == 0:
        # The structures, map and list more often: their edges ({}, null inside) are subtle.
        name = draw(st.sampled_from(["Command", "DefaultArguments", "Connections"]))
        doc[name] = draw(fitting(members[name]) | nested_misfit(members[name]))
    if draw(st.integers(0, 7)) == 0:
        doc[draw(st.sampled_from(["CreatedOn", "CompletedOn"]))] = draw(timestamp_texts)
    unknown = draw(
        st.dictionaries(
            st.text(min_size=1, max_size=8).filter(lambda k: k not in members),
            json_values,
            max_size=2,
        )
    )
    return {**doc, **unknown}


@st.composite
def success_replies(draw: st.DrawFn) -> tuple[int, dict[str, str], bytes]:
    status = draw(st.sampled_from([200, 200, 200, 201, 299]))
    headers = {"x-amzn-RequestId": "r-1", "Content-Type": "application/x-amz-json-1.1"}
    kind = draw(st.sampled_from(["session"] * 12 + ["envelope", "bytes"]))
    if kind == "session":
        doc: Any = {"Session": draw(session_documents())}
        if draw(st.booleans()):
            doc["NextToken"] = draw(json_values)  # unknown top-level members are ignored
        return status, headers, json.dumps(doc).encode()
    if kind == "envelope":
        doc = draw(
            st.sampled_from(
                [
                    {},
                    {"Session": None},
                    {"Session": []},
                    {"Session": "x"},
                    {"Session": {}},
                    [],
                    None,
                ]
            )
            | json_values
        )
        return status, headers, json.dumps(doc).encode()
    full = json.dumps({"Session": draw(session_documents())}).encode()
    body = draw(
        st.sampled_from(
            [
                b"",
                b"\xef\xbb\xbf" + full,  # a UTF-8 BOM
                full.decode().encode("utf-16"),
                full[: len(full) // 2],  # truncated
                b"\xff" + full,
                b"[" * 5000 + b"]" * 5000,  # deeper than json reads
            ]
        )
    )
    return status, headers, body


def compare_success(status: int, headers: dict[str, str], body: bytes) -> str:
    """The row of the table this reply falls under; raises AssertionError on any other outcome."""
    try:
        theirs: dict[str, Any] | None = botocore_parse(status, headers, body)
    except Exception:
        theirs = None
    mine = ours(status, headers, body)
    try:
        doc = json.loads(body.decode())
    except (ValueError, RecursionError):
        doc = None
    raw = doc.get("Session") if isinstance(doc, dict) else None

    if theirs is None:
        # botocore raises (not UTF-8, too deep, a string where a structure belongs, a timestamp
        # it cannot place): ours is InvalidReply, naming a field that is really there.
        assert isinstance(mine, errors.GlueError) and mine.code == "InvalidReply", mine
        if isinstance(raw, dict) and isinstance(raw.get("Id"), str):
            assert value_at(raw, named_field(mine)) is not None, mine.message
        return "differs: botocore raises, ours InvalidReply naming the field"
    session = theirs.get("Session")
    if not isinstance(session, dict) or not isinstance(session.get("Id"), str):
        # No Session, or one without a string Id: boto3's get_session()["Session"] would be a
        # KeyError or a dict without Id; the contract's Session always has its id.
        assert isinstance(mine, errors.GlueError) and mine.code == "InvalidReply", mine
        return "differs: no Session object or no string Id -> InvalidReply"
    assert isinstance(raw, dict)
    bad = misfits(SESSION_SHAPE, raw, "Session")
    if bad:
        assert isinstance(mine, errors.GlueError), f"ours accepted a misfit at {bad}: {mine!r}"
        assert mine.code == "InvalidReply"
        # The first bad field in member order: a misfit, or a date string ours does not read.
        named = [*bad, *(f"Session.{name}" for name in timestamp_strings(raw))]
        assert named_field(mine) in named, (mine.message, named)
        return "differs: wrong JSON type botocore passes through -> InvalidReply naming the field"
    if timestamp_strings(raw):
        # botocore reads any date string dateutil knows; ours ISO-8601 and epoch-number strings.
        if isinstance(mine, errors.GlueError):
            assert mine.code == "InvalidReply"
            assert named_field(mine) in [f"Session.{n}" for n in timestamp_strings(raw)]
            return "differs: timestamp string that is not ISO-8601 or epoch -> InvalidReply"
        if has_naive(session):
            assert mine.to_dict() == as_utc(session)
            return "differs: zone-less timestamp string read as UTC (botocore: naive datetime)"
    assert isinstance(mine, Session), f"botocore parsed a fitting reply, ours: {mine!r}"
    assert mine.to_dict() == session
    assert Session.from_dict(mine.to_dict()) == mine
    return "same: Session.to_dict() == botocore's Session"


@FUZZ
@given(success_replies())
def test_success_replies_match_botocore(reply: tuple[int, dict[str, str], bytes]) -> None:
    RESULTS[compare_success(*reply)] += 1
    RESULTS["replies"] += 1


# --- error replies -------------------------------------------------------------------------------

names = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.", min_size=1, max_size=30
)
codes = (
    st.sampled_from(
        [
            "EntityNotFoundException",
            "ThrottlingException",
            "AccessDeniedException",
            "InternalServiceException",
            "InvalidInputException",
            "OperationTimeoutException",
            "ConcurrentModificationException",
            "UnrecognizedClientException",
            "ExpiredTokenException",
            "SignatureDoesNotMatch",
        ]
    )
    | names
)
decorated_codes = st.tuples(
    st.sampled_from(["", "com.amazonaws.glue#", "aws.protocoltests.restjson#", "a#b#"]),
    codes,
    st.sampled_from(["", ":http://internal.amazon.com/coral/com.amazon.coral.service/", ":"]),
).map("".join)
odd_codes = st.sampled_from(["", " ", "#", ":", "a#", ":x", None, 5, ["Code"], {"c": 1}])
messages = st.text(max_size=40) | st.sampled_from(["Rate exceeded", "Session s-1 not found"])
xml_text = st.text(alphabet=st.characters(exclude_characters="<>&", codec="utf-8"), max_size=40)


@st.composite
def error_headers(draw: st.DrawFn) -> dict[str, str]:
    headers = {"x-amzn-RequestId": "req-1"}
    if draw(st.booleans()):
        name = draw(st.sampled_from(["x-amzn-ErrorType", "X-Amzn-Errortype"]))
        headers[name] = draw(decorated_codes | st.sampled_from(["", " ", ":http://x/"]))
    if draw(st.integers(0, 5)) == 0:
        name = draw(st.sampled_from(["x-amzn-query-error", "X-Amzn-Query-Error"]))
        headers[name] = draw(
            st.tuples(codes, st.sampled_from(["Sender", "Receiver", ""])).map(";".join)
            | st.sampled_from(["NoSemicolon", ";Sender", "a;b;c", ""])
        )
    if draw(st.booleans()):
        headers["Content-Type"] = draw(
            st.sampled_from(["application/x-amz-json-1.1", "text/html", "text/xml"])
        )
    return headers


@st.composite
def error_bodies(draw: st.DrawFn) -> tuple[bytes, dict[str, Any]]:
    """A body and what the fallback rule needs of it: the JSON object, the XML code and message."""
    kind = draw(
        st.sampled_from(
            ["json"] * 6 + ["truncated", "xml", "xml", "html", "empty", "text", "bytes", "array"]
        )
    )
    if kind in ("json", "truncated"):
        obj: dict[str, Any] = {}
        if draw(st.integers(0, 4)) > 0:
            obj["__type"] = draw(decorated_codes | odd_codes)
        if draw(st.integers(0, 3)) == 0:
            obj["code"] = draw(decorated_codes | odd_codes)
        for key in draw(st.sets(st.sampled_from(["message", "Message"]))):
            obj[key] = draw(messages | st.sampled_from([None, 5, ["m"]]))
        if draw(st.booleans()):
            obj["Reason"] = draw(json_values)
        keys = list(obj)
        order = draw(st.permutations(keys))
        body = json.dumps(
            {k: obj[k] for k in order}, indent=draw(st.sampled_from([None, 1]))
        ).encode()
        if kind == "truncated":
            return body[: draw(st.integers(0, len(body) - 1))], {}
        return body, {"json": obj}
    if kind == "xml":
        code = draw(st.none() | codes)
        message = draw(st.none() | xml_text)
        inner = (f"<Code>{code}</Code>" if code else "") + (
            f"<Message>{message}</Message>" if message is not None else ""
        )
        prolog = draw(st.sampled_from(["", '<?xml version="1.0" encoding="UTF-8"?>\n', "  "]))
        body = f"{prolog}<ErrorResponse><Error><Type>Sender</Type>{inner}</Error></ErrorResponse>"
        return body.encode(), {"xml_code": code, "xml_message": message}
    if kind == "html":
        page = draw(
            st.sampled_from(
                [
                    "<html><body><h1>502 Bad Gateway</h1></body></html>",
                    "\n<html><head><title>503</title></head><body>" + "x" * 300 + "</body></html>",
                    "<!DOCTYPE html><html><body>Service Unavailable</body></html>",
                    "<HTML><BODY>Gateway Timeout</BODY></HTML>",
                ]
            )
        )
        return page.encode(), {}
    if kind == "empty":
        return draw(st.sampled_from([b"", b" ", b"\r\n"])), {}
    if kind == "text":
        return draw(st.text(max_size=300)).encode(), {}
    if kind == "bytes":
        return draw(st.binary(max_size=300)), {}
    return json.dumps(draw(st.lists(json_scalars, max_size=3) | json_scalars)).encode(), {}


def clean(code: str) -> str:
    # botocore's cleaning of a __type: ":uri" suffix, then "namespace#".
    return code.split(":", 1)[0].rsplit("#", 1)[-1]


def fallback_code(status: int, headers: dict[str, str], facts: dict[str, Any]) -> str:
    """The contract's code where botocore would give the bare status."""
    header = next((v for k, v in headers.items() if k.lower() == "x-amzn-errortype"), None)
    obj = facts.get("json")
    candidates = [header, obj.get("code") if obj else None, facts.get("xml_code")]
    for candidate in candidates:
        if isinstance(candidate, str) and clean(candidate).strip():
            return clean(candidate).strip()
    return str(status)


def excerpt(body: bytes) -> str:
    text = " ".join(body[:EXCERPT_LEN].decode("utf-8", "replace").split())
    return text + ("..." if len(body) > EXCERPT_LEN else "")


def compare_error(
    status: int, headers: dict[str, str], body: bytes, facts: dict[str, Any]
) -> tuple[str, str]:
    """The code row and the message row of the table this error reply falls under."""
    try:
        theirs: dict[str, Any] | None = botocore_parse(status, headers, body)["Error"]
    except Exception:
        theirs = None
    mine = ours(status, headers, body)
    assert isinstance(mine, errors.GlueError), mine
    assert type(mine) is errors.error_class_for(mine.code)
    error = mine.response["Error"]
    assert error["Code"] == mine.code and error["Message"] == mine.message

    their_code = theirs.get("Code") if theirs else None
    if not STRIPS_URI_SUFFIX and isinstance(their_code, str) and ":" in their_code:
        # botocore 1.34 keeps the ':uri' suffix of a __type; newer botocores (and the contract)
        # drop it: compare with the code a newer botocore finds in the same __type.
        their_code = str(facts["json"]["__type"]).split(":", 1)[0].rsplit("#", 1)[-1]
    if isinstance(their_code, str) and their_code not in ("", str(status)):
        assert mine.code == their_code
        for key in ("QueryErrorCode", "Type"):
            assert error.get(key) == theirs.get(key)  # type: ignore[union-attr]
        code_row = "same: code botocore finds"
    else:
        assert mine.code == fallback_code(status, headers, facts), (mine.code, theirs)
        if theirs is None:
            code_row = "differs: botocore raises; ours takes the fallback code"
        elif mine.code == their_code:
            code_row = "same: the bare status, as botocore writes it"
        elif their_code == str(status):
            code_row = "differs: botocore's bare status; ours the fallback code"
        else:
            code_row = "differs: botocore's empty code (__type null or cleaned away); ours fallback"

    obj = facts.get("json")
    message = obj.get("message", obj.get("Message", "")) if obj is not None else None
    if isinstance(message, str):
        assert mine.message == message
        if theirs is not None:
            assert theirs.get("Message") == message
        message_row = (
            "same: message botocore finds"
            if theirs
            else "differs: botocore raises; ours the JSON body's message"
        )
    else:
        xml_message = facts.get("xml_message")
        expected = xml_message if xml_message and xml_message.strip() else excerpt(body)
        assert mine.message == expected
        their_message = theirs.get("Message") if theirs else None
        if theirs is None:
            message_row = "differs: botocore raises; ours an excerpt"
        elif their_message == expected:
            message_row = "same: message (excerpt equals botocore's)"
        elif obj is not None:
            message_row = "differs: botocore's message not a string; ours an excerpt"
        elif their_message == http.client.responses.get(status, ""):
            message_row = "differs: botocore's reason phrase (5xx empty/<html>); ours an excerpt"
        else:
            assert their_message == body.decode(), their_message
            message_row = "differs: botocore's whole non-JSON body; ours an excerpt"
    return code_row, message_row


statuses = st.sampled_from([400, 403, 404, 408, 413, 429, 500, 502, 503, 504]) | st.integers(
    301, 599
)


@FUZZ
@given(statuses, error_headers(), error_bodies())
def test_error_replies_match_botocore(
    status: int, headers: dict[str, str], body_facts: tuple[bytes, dict[str, Any]]
) -> None:
    body, facts = body_facts
    code_row, message_row = compare_error(status, headers, body, facts)
    RESULTS["code " + code_row] += 1
    RESULTS["message " + message_row] += 1
    RESULTS["replies"] += 1


def test_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """Print the counts (runs after the two properties above, in file order)."""
    if not RESULTS["replies"]:
        pytest.skip("the differential properties did not run in this session")
    width = max(len(row) for row in RESULTS)
    with capsys.disabled():
        total = RESULTS["replies"]
        print(f"\n{total} replies compared with botocore, 0 mismatches outside the table:")
        for row, count in sorted(RESULTS.items()):
            if row != "replies":
                print(f"  {row:<{width}} {count:>6}")
    assert RESULTS["replies"] >= EXAMPLES  # both properties ran
