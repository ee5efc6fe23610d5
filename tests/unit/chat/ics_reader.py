"""A small reader of the one-event calendar files the tracking page serves (RFC 5545):
unfold the lines, then read each property of the VEVENT. Used by the unit and browser
tests to parse the downloaded file back."""

from __future__ import annotations


def unfold(text: str) -> list[str]:
    """Content lines: CRLF-terminated, a line starting with a space continues the last."""
    assert text.endswith("\r\n"), "every line ends with CRLF"
    physical = text.split("\r\n")[:-1]
    assert all("\n" not in line and "\r" not in line for line in physical), "bare LF or CR"
    lines: list[str] = []
    for line in physical:
        assert len(line.encode("utf-8")) <= 75, f"line longer than 75 octets: {line!r}"
        if line.startswith(" "):
            lines[-1] += line[1:]
        else:
            lines.append(line)
    return lines


def unescape(value: str) -> str:
    out, index = [], 0
    while index < len(value):
        if value[index] == "\\" and index + 1 < len(value):
            following = value[index + 1]
            out.append("\n" if following in "nN" else following)
            index += 2
        else:
            out.append(value[index])
            index += 1
    return "".join(out)


def parse_ics(text: str) -> dict[str, str]:
    """The VEVENT's properties by name (with parameters: `DTSTART;VALUE=DATE`), text
    values unescaped; the calendar must hold exactly one event."""
    lines = unfold(text)
    assert lines[0] == "BEGIN:VCALENDAR"
    assert lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines
    assert any(line.startswith("PRODID:") for line in lines)
    assert lines.count("BEGIN:VEVENT") == 1
    assert lines.count("END:VEVENT") == 1
    start, end = lines.index("BEGIN:VEVENT"), lines.index("END:VEVENT")
    event: dict[str, str] = {}
    for line in lines[start + 1 : end]:
        name, _, value = line.partition(":")
        event[name] = unescape(value)
    return event
