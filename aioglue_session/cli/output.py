"""Output lines on stdout: one JSON object per line, through ``--query`` when given."""

from __future__ import annotations

import json
from typing import IO, Any

from ..errors import GlueError, error_code
from ..models import Session, SessionChange, SessionResult
from .progress import Progress

__all__ = ["Output", "change_object", "error_line", "session_line"]


def session_line(session: Session) -> str:
    """One output line: the ``to_dict()`` shape with ISO-8601 timestamps."""
    return json.dumps(session.to_json_dict(), ensure_ascii=False)


def error_object(error: BaseException) -> dict[str, str]:
    code = error_code(error)
    message = error.message if isinstance(error, GlueError) else str(error)
    return {"Code": code, "Message": message}


def error_line(session_id: str, error: BaseException) -> str:
    return json.dumps({"Id": session_id, "Error": error_object(error)}, ensure_ascii=False)


def _status(status: object) -> str | None:
    return None if status is None else str(status)


def change_object(change: SessionChange) -> dict[str, Any]:
    """A watch's line: ``{"Id", "Previous", "Status", "Final", "Session"}``, or ``"Error"`` in
    place of ``"Session"``."""
    line: dict[str, Any] = {
        "Id": change.id,
        "Previous": _status(change.previous),
        "Status": _status(change.status),
        "Final": change.final,
    }
    if change.session is not None:
        line["Session"] = change.session.to_json_dict()
    elif change.error is not None:
        line["Error"] = error_object(change.error)
    return line


class Output:
    """Output lines on stdout: sessions (through ``--query`` when given) and per-id errors."""

    def __init__(self, out: IO[str], query: Any, progress: Progress | None = None) -> None:
        self._out = out
        self._query = query
        self._progress = progress

    def session(self, session: Session) -> None:
        if self._query is None:
            self._write(session_line(session))
        else:
            # As the AWS CLI's --query: applied to the object the line would show; what it
            # selects is printed as JSON (``null`` when it selects nothing).
            value = self._query.search(session.to_json_dict())
            self._write(json.dumps(value, ensure_ascii=False))

    def error(self, session_id: str, error: BaseException) -> None:
        # Not queried: an error line must still say which id failed and why.
        self._write(error_line(session_id, error))

    def result(self, result: SessionResult) -> None:
        if result.session is not None:
            self.session(result.session)
        else:
            assert result.error is not None
            self.error(result.id, result.error)

    def change(self, change: SessionChange) -> None:
        line = change_object(change)
        if self._query is None or "Error" in line:  # (error lines are left whole)
            self._write(json.dumps(line, ensure_ascii=False))
        else:
            self._write(json.dumps(self._query.search(line), ensure_ascii=False))

    def _write(self, line: str) -> None:
        if self._progress is not None:
            self._progress.write_line(self._out, line)
        else:
            self._out.write(line + "\n")
            self._out.flush()
