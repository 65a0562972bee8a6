"""The wire protocol as pure functions: request building and reply reading, no network."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.exceptions import ParamValidationError as BotocoreParamValidationError

from aioglue_session import Session, SessionCommand, SessionStatus, errors
from aioglue_session.protocol import (
    CONTENT_TYPE,
    TARGET,
    build_error,
    encode_request,
    parse_reply,
    validate_request_origin,
    validate_session_id,
)

FULL_SESSION: dict[str, Any] = {
    "Id": "sess-1",
    "CreatedOn": 1700000000.123,
    "Status": "READY",
    "ErrorMessage": "none",
    "Description": "a session",
    "Role": "arn:aws:iam::123456789012:role/Glue",
    "Command": {"Name": "glueetl", "PythonVersion": "3"},
    "DefaultArguments": {"--job-language": "python"},
    "Connections": {"Connections": ["c1", "c2"]},
    "Progress": 50,
    "MaxCapacity": 5.0,
    "SecurityConfiguration": "sec",
    "GlueVersion": "4.0",
    "NumberOfWorkers": 10,
    "WorkerType": "G.1X",
    "CompletedOn": 1700000600,
    "ExecutionTime": 600.0,
    "DPUSeconds": 3000.0,
    "IdleTimeout": 30,
    "ProfileName": "default-profile",
    "SessionType": "SPARK_CONNECT",
}


def body(doc: Any) -> bytes:
    return json.dumps(doc).encode()


# --- requests ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("session_id", "origin", "expected"),
    [
        ("abc", None, b'{"Id":"abc"}'),
        ("abc", "my-tool.v1", b'{"Id":"abc","RequestOrigin":"my-tool.v1"}'),
        ('quo"te\\', None, b'{"Id":"quo\\"te\\\\"}'),
        ("tab\there", None, b'{"Id":"tab\\there"}'),
        ("caf\u00e9", None, b'{"Id":"caf\\u00e9"}'),
        ("\U0001f600", None, b'{"Id":"\\ud83d\\ude00"}'),
    ],
)
def test_encode_request_is_compact_json(
    session_id: str, origin: str | None, expected: bytes
) -> None:
    assert encode_request(session_id, origin) == expected
    assert json.loads(expected)["Id"] == session_id


def test_protocol_constants() -> None:
    assert TARGET == "AWSGlue.GetSession"
    assert CONTENT_TYPE == "application/x-amz-json-1.1"


@pytest.mark.parametrize(
    "good", ["a", "x" * 255, "with space", "tab\tok", "\u00e9\u4e2d", "\U0010fffd", "\ufffd"]
)
def test_valid_session_ids(good: str) -> None:
    assert validate_session_id(good) == good


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("", "length"),
        ("x" * 256, "length"),
        ("new\nline", "U+000A"),
        ("cr\rhere", "U+000D"),
        ("nul\x00", "U+0000"),
        ("\x7f" + "a", None),
        ("\ud800", "U+D800"),
        ("\ufffe", "U+FFFE"),
        (123, "type"),
        (None, "type"),
    ],
)
def test_invalid_session_ids(bad: Any, why: str | None) -> None:
    if bad == "\x7fa":
        # DEL (U+007F) is inside the pattern's \u0020-\uD7FF range: Glue accepts it.
        assert validate_session_id(bad) == bad
        return
    with pytest.raises(errors.ParamValidationError) as info:
        validate_session_id(bad)
    err = info.value
    assert isinstance(err, BotocoreParamValidationError)
    assert isinstance(err, ValueError)
    assert why is not None and why in str(err)


@pytest.mark.parametrize("good", [None, "a", "my-tool_v1.2", "x" * 128])
def test_valid_request_origin(good: str | None) -> None:
    assert validate_request_origin(good) == good


@pytest.mark.parametrize("bad", ["", "x" * 129, "has space", "slash/", "caf\u00e9", 5])
def test_invalid_request_origin(bad: Any) -> None:
    with pytest.raises(errors.ParamValidationError, match="RequestOrigin"):
        validate_request_origin(bad)


# --- successful replies --------------------------------------------------------------------------


def test_parse_full_session() -> None:
    s = parse_reply(200, {}, body({"Session": FULL_SESSION}))
    assert s == Session(
        id="sess-1",
        created_on=datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=timezone.utc),
        status=SessionStatus.READY,
        error_message="none",
        description="a session",
        role="arn:aws:iam::123456789012:role/Glue",
        command=SessionCommand(name="glueetl", python_version="3"),
        default_arguments={"--job-language": "python"},
        connections=("c1", "c2"),
        progress=50.0,
        max_capacity=5.0,
        security_configuration="sec",
        glue_version="4.0",
        number_of_workers=10,
        worker_type="G.1X",
        completed_on=datetime(2023, 11, 14, 22, 23, 20, tzinfo=timezone.utc),
        execution_time=600.0,
        dpu_seconds=3000.0,
        idle_timeout=30,
        profile_name="default-profile",
        session_type="SPARK_CONNECT",
    )


def test_minimal_session_and_unknown_fields() -> None:
    s = parse_reply(200, {}, body({"Session": {"Id": "x", "Brand": "new"}, "Other": 1}))
    assert s.id == "x"
    assert s.status is None and s.created_on is None and s.connections is None
    assert s.to_dict() == {"Id": "x"}


def test_unknown_status_is_kept_as_string() -> None:
    s = parse_reply(200, {}, body({"Session": {"Id": "x", "Status": "HIBERNATING"}}))
    assert s.status == "HIBERNATING"
    assert not isinstance(s.status, SessionStatus)
    assert s.to_dict()["Status"] == "HIBERNATING"


def test_to_dict_round_trips_and_matches_boto3_shape() -> None:
    s = parse_reply(200, {}, body({"Session": FULL_SESSION}))
    d = s.to_dict()
    assert d["Connections"] == {"Connections": ["c1", "c2"]}
    assert d["CreatedOn"] == datetime.fromtimestamp(1700000000.123, timezone.utc)
    assert d["DPUSeconds"] == 3000.0
    assert set(d) == set(FULL_SESSION)
    assert Session.from_dict(d) == s


def test_to_json_dict_is_to_dict_with_iso_timestamps() -> None:
    s = parse_reply(200, {}, body({"Session": FULL_SESSION}))
    d, j = s.to_dict(), s.to_json_dict()
    assert j["CreatedOn"] == "2023-11-14T22:13:20.123000+00:00"
    assert j["CompletedOn"] == d["CompletedOn"].isoformat()
    assert {k: v for k, v in j.items() if k not in ("CreatedOn", "CompletedOn")} == {
        k: v for k, v in d.items() if k not in ("CreatedOn", "CompletedOn")
    }
    assert json.loads(json.dumps(j)) == j
    assert Session.from_dict(j) == s  # ISO strings read back as the same instants
    bare = Session(id="x")
    assert bare.to_json_dict() == bare.to_dict() == {"Id": "x"}


def parse_session(session: dict[str, Any]) -> Session:
    return parse_reply(200, {}, body({"Session": {"Id": "x", **session}}))


@pytest.mark.parametrize(
    ("member", "attribute"),
    [
        ("CreatedOn", "created_on"),
        ("Status", "status"),
        ("ErrorMessage", "error_message"),
        ("Role", "role"),
        ("Command", "command"),
        ("DefaultArguments", "default_arguments"),
        ("Connections", "connections"),
        ("Progress", "progress"),
        ("MaxCapacity", "max_capacity"),
        ("NumberOfWorkers", "number_of_workers"),
        ("CompletedOn", "completed_on"),
        ("IdleTimeout", "idle_timeout"),
        ("SessionType", "session_type"),
    ],
)
def test_null_member_is_left_out_as_boto3_leaves_it(member: str, attribute: str) -> None:
    # botocore's JSON parser skips a member whose value is null: boto3's dict has no such key.
    doc = {**FULL_SESSION, member: None}
    s = parse_reply(200, {}, body({"Session": doc}))
    assert getattr(s, attribute) is None
    expected = {k: v for k, v in FULL_SESSION.items() if k != member}
    assert set(s.to_dict()) == set(expected)
    assert Session.from_dict(s.to_dict()) == s


@pytest.mark.parametrize(
    ("command", "model", "boto3"),
    [
        ({}, SessionCommand(), {}),
        ({"Name": None}, SessionCommand(), {}),
        (
            {"Name": "glueetl", "PythonVersion": None},
            SessionCommand(name="glueetl"),
            {"Name": "glueetl"},
        ),
        (
            {"Name": None, "PythonVersion": "3"},
            SessionCommand(python_version="3"),
            {"PythonVersion": "3"},
        ),
    ],
)
def test_command_structure_keeps_its_shape(
    command: dict[str, Any], model: SessionCommand, boto3: dict[str, str]
) -> None:
    s = parse_session({"Command": command})
    assert s.command == model
    assert s.to_dict() == {"Id": "x", "Command": boto3}
    assert Session.from_dict(s.to_dict()) == s


@pytest.mark.parametrize(
    ("wire", "connections", "boto3"),
    [
        ({}, (), {}),
        ({"Connections": None}, (), {}),
        ({"Connections": []}, (), {"Connections": []}),
        ({"Connections": ["a", "b"]}, ("a", "b"), {"Connections": ["a", "b"]}),
        ({"Connections": ["a"], "Unknown": 1}, ("a",), {"Connections": ["a"]}),
    ],
)
def test_connections_structure_round_trips_as_boto3_gives_it(
    wire: dict[str, Any], connections: tuple[str, ...], boto3: dict[str, Any]
) -> None:
    s = parse_session({"Connections": wire})
    assert s.connections == connections
    assert list(s.connections or ()) == list(connections)
    assert s.to_dict() == {"Id": "x", "Connections": boto3}
    again = Session.from_dict(s.to_dict())
    assert again == s and again.to_dict() == s.to_dict()


def test_empty_connections_structure_and_empty_list_are_different_sessions() -> None:
    bare = parse_session({"Connections": {}})
    listed = parse_session({"Connections": {"Connections": []}})
    # Both read as no connections, but they are different replies with different to_dict().
    assert bare.connections == listed.connections == ()
    assert bare != listed
    assert bare.to_dict() != listed.to_dict()
    import pickle

    again = pickle.loads(pickle.dumps(bare))
    assert again == bare and again.to_dict() == {"Id": "x", "Connections": {}}


def test_null_inside_a_list_or_map_is_an_invalid_reply() -> None:
    # botocore would keep [None] / {"a": None}; the model promises strings, so the reply is named
    # as malformed instead of handing a None to code that iterates strings.
    with pytest.raises(errors.GlueError) as info:
        parse_session({"Connections": {"Connections": ["a", None]}})
    assert info.value.code == "InvalidReply"
    assert "Session.Connections.Connections" in info.value.message
    assert "null at [1]" in info.value.message
    with pytest.raises(errors.GlueError) as info:
        parse_session({"DefaultArguments": {"--a": "1", "--b": None}})
    assert info.value.code == "InvalidReply"
    assert "Session.DefaultArguments" in info.value.message
    assert "'--b'" in info.value.message


@pytest.mark.parametrize(
    ("member", "value", "field", "why"),
    [
        ("Command", "glueetl", "Session.Command", "expected an object, got string"),
        ("Command", ["glueetl"], "Session.Command", "expected an object, got array"),
        ("Command", {"Name": 5}, "Session.Command.Name", "expected a string, got number"),
        ("Connections", "x", "Session.Connections", "expected an object, got string"),
        ("Connections", ["a"], "Session.Connections", "expected an object, got array"),
        ("Connections", {"Connections": "ab"}, "Session.Connections.Connections", "got string"),
        ("Connections", {"Connections": {"a": 1}}, "Session.Connections.Connections", "object"),
        ("DefaultArguments", "x", "Session.DefaultArguments", "expected an object, got string"),
        ("DefaultArguments", {"a": 1}, "Session.DefaultArguments", "got number for key 'a'"),
        ("Role", 5, "Session.Role", "expected a string, got number"),
        ("Status", True, "Session.Status", "expected a string, got boolean"),
        ("Progress", "12", "Session.Progress", "expected a number, got string"),
        ("NumberOfWorkers", 2.5, "Session.NumberOfWorkers", "expected an integer"),
        ("CreatedOn", True, "Session.CreatedOn", "expected a timestamp, got boolean"),
    ],
)
def test_wrong_json_type_is_an_invalid_reply_naming_the_field(
    member: str, value: Any, field: str, why: str
) -> None:
    with pytest.raises(errors.GlueError) as info:
        parse_session({member: value})
    assert info.value.code == "InvalidReply"
    assert f"malformed field {field}:" in info.value.message
    assert why in info.value.message


def test_numbers_keep_the_value_botocore_keeps() -> None:
    # A double sent as an integer stays that integer, as in botocore's dict (even past 2**53).
    s = parse_session({"Progress": 2**70 + 1, "MaxCapacity": 5, "NumberOfWorkers": 5.0})
    assert s.to_dict()["Progress"] == 2**70 + 1
    assert s.max_capacity == 5 and s.number_of_workers == 5


def test_session_is_frozen() -> None:
    s = parse_reply(200, {}, body({"Session": {"Id": "x"}}))
    with pytest.raises(AttributeError):
        s.id = "y"  # type: ignore[misc]


# --- error replies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "headers", "raw", "cls", "code", "message"),
    [
        (
            400,
            {},
            b'{"__type":"com.amazonaws.glue#EntityNotFoundException","message":"gone"}',
            errors.EntityNotFoundException,
            "EntityNotFoundException",
            "gone",
        ),
        (
            400,
            {},
            b'{"__type":"InvalidInputException","Message":"bad id"}',
            errors.InvalidInputException,
            "InvalidInputException",
            "bad id",
        ),
        (
            400,
            {"x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/"},
            b"{}",
            errors.ThrottlingException,
            "ThrottlingException",
            "",
        ),
        (
            400,
            {},
            b'{"__type":"AccessDeniedException","message":"no"}',
            errors.AccessDeniedException,
            "AccessDeniedException",
            "no",
        ),
        (
            500,
            {},
            b'{"__type":"InternalServiceException","message":"oops"}',
            errors.InternalServiceException,
            "InternalServiceException",
            "oops",
        ),
        (
            400,
            {},
            b'{"__type":"OperationTimeoutException"}',
            errors.OperationTimeoutException,
            "OperationTimeoutException",
            "",
        ),
        (
            400,
            {},
            b'{"__type":"ConcurrentModificationException","message":"m"}',
            errors.GlueError,
            "ConcurrentModificationException",
            "m",
        ),
        (
            403,
            {},
            b"<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code>"
            b"<Message>The request signature we calculated does not match</Message></Error>"
            b"</ErrorResponse>",
            errors.GlueError,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match",
        ),
        (
            502,
            {"Content-Type": "text/html"},
            b"<html><body><h1>502 Bad Gateway</h1></body></html>",
            errors.GlueError,
            "502",
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
        ),
        (503, {}, b"", errors.GlueError, "503", ""),
        (500, {}, b'{"__type": "Internal', errors.GlueError, "500", '{"__type": "Internal'),
        (400, {}, b"\xff\xfe\x00garbage", errors.GlueError, "400", None),
    ],
)
def test_error_replies(
    status: int,
    headers: dict[str, str],
    raw: bytes,
    cls: type[errors.GlueError],
    code: str,
    message: str | None,
) -> None:
    headers = {**headers, "x-amzn-RequestId": "req-123"}
    with pytest.raises(errors.GlueError) as info:
        parse_reply(status, headers, raw, retry_attempts=2)
    err = info.value
    assert type(err) is cls
    assert isinstance(err, ClientError)
    assert err.code == code
    if message is not None:
        assert err.message == message
    assert err.status_code == status
    assert err.request_id == "req-123"
    assert err.retry_attempts == 2
    assert err.response["Error"] == {"Code": code, "Message": err.message}
    meta = err.response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == status and meta["RequestId"] == "req-123"
    assert meta["HTTPHeaders"]["x-amzn-requestid"] == "req-123"
    assert err.operation_name == "GetSession"


@pytest.mark.parametrize(
    ("status", "headers", "raw", "code", "message"),
    [
        # botocore finds a code: the body's __type, whatever else the reply says.
        (
            400,
            {"x-amzn-ErrorType": "Other"},
            b'{"__type":"aws.glue#EntityNotFoundException:http://x/","code":"C","message":"m"}',
            "EntityNotFoundException",
            "m",
        ),
        (400, {}, b'{"__type":"Foo","Message":"upper","message":"lower"}', "Foo", "lower"),
        (400, {}, b'{"__type":"Foo","Message":"upper"}', "Foo", "upper"),
        # ... or the code of an x-amzn-query-error header, which botocore consults even for a
        # body without __type (and for an empty 4xx body, which it reads as {}).
        (400, {"x-amzn-query-error": "AWS.Foo;Sender"}, b'{"__type":"Bar"}', "AWS.Foo", ""),
        (400, {"x-amzn-query-error": "AWS.Foo;Sender"}, b"", "AWS.Foo", ""),
        (400, {"x-amzn-query-error": "no-type"}, b'{"__type":"Bar"}', "Bar", ""),
        # botocore would give the bare status: the header, then the body's code, then XML.
        (400, {"x-amzn-ErrorType": "Hdr:http://x/"}, b'{"code":"Body"}', "Hdr", ""),
        (400, {}, b'{"code":"aws#Body","message":"m"}', "Body", "m"),
        (400, {}, b'{"__type":null,"code":"Body"}', "Body", ""),
        (403, {"x-amzn-ErrorType": "Hdr"}, b"<Error><Code>Xml</Code></Error>", "Hdr", None),
        (403, {}, b"<Error><Code>Xml</Code></Error>", "Xml", "<Error><Code>Xml</Code></Error>"),
        # An XML <Message> with no text says nothing: the excerpt is kept instead.
        (
            403,
            {},
            b"<E><Code>Xml</Code><Message> </Message></E>",
            "Xml",
            "<E><Code>Xml</Code><Message> </Message></E>",
        ),
        (503, {"x-amzn-ErrorType": "SlowDown"}, b"", "SlowDown", ""),
        (503, {}, b"<html><body>busy</body></html>", "503", "<html><body>busy</body></html>"),
        (400, {}, b"[1, 2]", "400", "[1, 2]"),
        (400, {}, b'{"__type": 5}', "400", ""),
        # A JSON message that is not a string is replaced by an excerpt, never "None" or 5.
        (400, {}, b'{"__type":"Foo","message":null}', "Foo", '{"__type":"Foo","message":null}'),
        (400, {}, b'{"__type":"Foo","message":5}', "Foo", '{"__type":"Foo","message":5}'),
    ],
)
def test_error_code_rule(
    status: int, headers: dict[str, str], raw: bytes, code: str, message: str | None
) -> None:
    err = build_error(status, headers, raw)
    assert err.code == code
    assert err.response["Error"]["Code"] == code
    if message is not None:
        assert err.message == message


def test_query_error_header_adds_botocores_error_keys() -> None:
    err = build_error(400, {"X-Amzn-Query-Error": "AWS.Foo;Sender"}, b'{"__type":"a#Bar"}')
    assert err.response["Error"] == {
        "Code": "AWS.Foo",
        "Message": "",
        "QueryErrorCode": "Bar",
        "Type": "Sender",
    }


def test_overridden_code_and_message_win() -> None:
    err = build_error(200, {}, b"", code="ReplyTooLarge", message="too big")
    assert err.response["Error"] == {"Code": "ReplyTooLarge", "Message": "too big"}
    err = build_error(503, {"x-amzn-ErrorType": "Hdr"}, b'{"__type":"T"}', code="InvalidReply")
    assert err.code == "InvalidReply"


def test_long_non_json_body_is_excerpted() -> None:
    err = build_error(502, {}, b"<html>" + b"x" * 5000 + b"</html>")
    assert err.code == "502"
    assert len(err.message) < 260 and err.message.endswith("...")


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"", "not valid JSON"),
        (b'{"Session": {"Id": "x", "Crea', "not valid JSON"),
        (b"[]", "no Session"),
        (b'{"Session": null}', "no Session"),
        (b'{"Session": {"Status": "READY"}}', "Session.Id: expected a string, got nothing"),
        (b'{"Session": {"Id": "x", "Progress": "12"}}', "Progress"),
        (b'{"Session": {"Id": "x", "DefaultArguments": ["a"]}}', "DefaultArguments"),
        (b'{"Session": {"Id": "x", "Command": {"Name": 5}}}', "Command.Name"),
        (b'{"Session": {"Id": "x", "NumberOfWorkers": 2.5}}', "NumberOfWorkers"),
        (b'{"Session": {"Id": "x", "CreatedOn": "yesterday"}}', "CreatedOn"),
        (b'{"Session": {"Id": "x", "Connections": {"Connections": [1]}}}', "Connections"),
        (b'{"Session": {"Id": 7}}', "Session.Id: expected a string, got number"),
        (b'{"Session": {"Id": null}}', "Session.Id: expected a string, got null"),
        # botocore reads these bodies only as UTF-8: a BOM or UTF-16 is not its JSON.
        (b'\xef\xbb\xbf{"Session": {"Id": "x"}}', "not valid JSON in UTF-8"),
        ('{"Session": {"Id": "x"}}'.encode("utf-16"), "not valid JSON in UTF-8"),
        # One document, all of the body: extra data after it is not JSON (json.loads' rule).
        (b'{"Session": {"Id": "x"}} x', "not valid JSON"),
        (b'{"Session": {"Id": "x"}}{}', "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),  # nested past the recursion limit
    ],
)
def test_malformed_success_bodies_are_typed_errors(raw: bytes, why: str) -> None:
    with pytest.raises(errors.GlueError) as info:
        parse_reply(200, {"x-amzn-RequestId": "r"}, raw, retry_attempts=1)
    assert info.value.code == "InvalidReply"
    assert why in info.value.message
    assert info.value.request_id == "r"
    assert info.value.retry_attempts == 1


@pytest.mark.parametrize(
    "raw",
    [
        b'{"Session": {"Id": "x"}}',
        b' \t\r\n{"Session": {"Id": "x"}}',
        b'{"Session": {"Id": "x"}}\n',
        b'\n {"Session" : { "Id" : "x" } } \n',
    ],
)
def test_white_space_around_the_document_is_json(raw: bytes) -> None:
    assert parse_reply(200, {}, raw).id == "x"


def test_exceptions_pickle_round_trip() -> None:
    import pickle

    err = build_error(400, {}, b'{"__type":"EntityNotFoundException","message":"m"}')
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is errors.EntityNotFoundException
    assert again.response == err.response
