"""Property tests: reply parsing is total, validation matches the Glue pattern exactly.

CI runs a few thousand examples per property; set ``AIOGLUE_FUZZ_EXAMPLES`` for more.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from faultserver import session_document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aioglue_session import Session, errors
from aioglue_session.models import converter, detailed_converter
from aioglue_session.protocol import (
    encode_request,
    parse_reply,
    validate_request_origin,
    validate_session_id,
)

EXAMPLES = int(os.environ.get("AIOGLUE_FUZZ_EXAMPLES", "1500"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

# The Glue model's NameString pattern, transcribed independently of the implementation: the
# Java-style "\uD800\uDC00-\uDBFF\uDFFF" (surrogate pairs) is every astral code point.
NAME_STRING = re.compile(r"[\u0020-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF\t]{1,255}")
ORCHESTRATION_NAME = re.compile(r"[.\-_A-Za-z0-9]{1,128}")

# A full, realistic reply document: the one the fault and benchmark servers send.
REAL_SESSION: dict[str, Any] = session_document("etl-session-1")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
headers = st.dictionaries(
    st.sampled_from(["x-amzn-RequestId", "x-amzn-ErrorType", "Content-Type", "Date", "X-Other"]),
    st.text(max_size=40),
    max_size=4,
)
statuses = st.integers(min_value=100, max_value=599)


def read(status: int, hdrs: dict[str, str], body: bytes) -> Session | errors.GlueError:
    """parse_reply's outcome; any other exception fails the property."""
    try:
        return parse_reply(status, hdrs, body)
    except errors.GlueError as exc:
        assert exc.code, "a GlueError always has a code"
        assert exc.status_code == status
        return exc


@FUZZ
@given(statuses, headers, st.binary(max_size=300))
def test_any_bytes_give_a_session_or_a_glue_error(
    status: int, hdrs: dict[str, str], body: bytes
) -> None:
    result = read(status, hdrs, body)
    if not 200 <= status < 300:
        assert isinstance(result, errors.GlueError)


@FUZZ
@given(statuses, headers, json_values)
def test_any_json_document(status: int, hdrs: dict[str, str], doc: Any) -> None:
    read(status, hdrs, json.dumps(doc).encode())


@FUZZ
@given(
    st.sampled_from(sorted(REAL_SESSION)),
    json_values,
    st.sets(st.sampled_from(sorted(REAL_SESSION)), max_size=5),
)
def test_mutated_real_sessions(field: str, value: Any, dropped: set[str]) -> None:
    doc = {k: v for k, v in REAL_SESSION.items() if k not in dropped or k == "Id"}
    doc[field] = value
    result = read(200, {}, json.dumps({"Session": doc}).encode())
    if isinstance(result, errors.GlueError):
        # Wrong types are named, never a half-built object.
        assert result.code == "InvalidReply"
        assert field in result.message or "Id" in result.message or "JSON" in result.message
    else:
        assert result.id == doc["Id"]
        if value is None:
            # A null member is left out, as boto3 leaves it out.
            assert field not in result.to_dict()
        # What parsed, round-trips: boto3's dict shape back to the same model.
        assert Session.from_dict(result.to_dict()) == result
        assert Session.from_dict(result.to_dict()).to_dict() == result.to_dict()


@FUZZ
@given(st.text(max_size=300))
def test_validator_matches_the_glue_pattern(candidate: str) -> None:
    allowed = NAME_STRING.fullmatch(candidate) is not None
    try:
        validate_session_id(candidate)
        accepted = True
    except errors.ParamValidationError:
        accepted = False
    assert accepted == allowed
    if accepted:
        # JSON-escaped on the wire; decoding gives the id back exactly.
        assert json.loads(encode_request(candidate))["Id"] == candidate
        assert b"\n" not in encode_request(candidate) and b"\r" not in encode_request(candidate)


@FUZZ
@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=300))
def test_validator_ascii_fast_path_matches_the_glue_pattern(candidate: str) -> None:
    # ASCII ids take a shortcut; it must agree with the pattern at every edge (controls, TAB,
    # DEL, the empty and the 256-character id).
    try:
        validate_session_id(candidate)
        accepted = True
    except errors.ParamValidationError:
        accepted = False
    assert accepted == (NAME_STRING.fullmatch(candidate) is not None)


def test_every_id_character_is_judged_by_the_glue_pattern() -> None:
    # Exhaustively where generation would sample: every code point of the BMP as a one-character
    # id, and astral ones (both ends included).
    astral = [*range(0x10000, 0x110000, 97), 0x10FFFF]
    for code_point in [*range(0x10000), *astral]:
        char = chr(code_point)
        try:
            validate_session_id(char)
            accepted = True
        except errors.ParamValidationError:
            accepted = False
        assert accepted == (NAME_STRING.fullmatch(char) is not None), hex(code_point)


@FUZZ
@given(
    st.sampled_from(sorted(REAL_SESSION)),
    json_values,
    st.sets(st.sampled_from(sorted(REAL_SESSION)), max_size=5),
)
def test_the_fast_structure_function_is_the_converters(
    field: str, value: Any, dropped: set[str]
) -> None:
    # The generated straight-line function (models._fast_structure_fn) against the same
    # mapping through cattrs' own generated functions: the same Session, or both refuse.
    doc = {k: v for k, v in REAL_SESSION.items() if k not in dropped or k == "Id"}
    doc[field] = json.loads(json.dumps(value))
    outcomes = []
    for structure in (converter.structure, detailed_converter().structure):
        try:
            outcomes.append(structure(doc, Session))
        except Exception:
            outcomes.append("refused")
    fast, reference = outcomes
    assert fast == reference
    if isinstance(fast, Session):
        assert fast.to_dict() == reference.to_dict()  # (types too: int stays int, and so on)


@FUZZ
@given(st.text(max_size=300), st.none() | st.text(max_size=140))
def test_request_body_is_what_json_dumps_writes(session_id: str, origin: str | None) -> None:
    body: dict[str, str] = {"Id": session_id}
    if origin is not None:
        body["RequestOrigin"] = origin
    expected = json.dumps(body, separators=(",", ":")).encode()
    assert encode_request(session_id, origin) == expected


@FUZZ
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=140))
def test_request_origin_matches_its_pattern(candidate: str) -> None:
    allowed = ORCHESTRATION_NAME.fullmatch(candidate) is not None
    try:
        validate_request_origin(candidate)
        accepted = True
    except errors.ParamValidationError:
        accepted = False
    assert accepted == allowed


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF),
        min_size=1,
        max_size=60,
    )
)
def test_astral_ids_are_accepted(candidate: str) -> None:
    assert validate_session_id(candidate) == candidate
