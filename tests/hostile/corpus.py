"""The hostile corpus: inputs meant to stop the worker, leak a BSN or move a KPI (docs/events.md, "Invalid
input"), each with what the contract says must become of it.

Every case has a class (the report counts by class), a name, the bytes, and `expect`: a reason code
(dead-lettered with that reason), `ANY` (dead-lettered with some reason: random bytes), or `OK`
(a valid event, counted as the contract says). `needles` are the BSNs the case carries, in every
spelling it uses, for the scan: none of them may be found anywhere the pipeline writes.

Deterministic (seeded), so a failure names a case that can be run again. `quick()` is the variant of
`make test`; `full()` adds the expensive sizes (a 20 MiB line, nesting 100,000 deep in every shape,
thousands of random lines).
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from schemas.events import TOPICS

GOLDEN: Final = Path(__file__).resolve().parents[1] / "golden" / "events"
OK: Final = "ok"
#: A valid event dated 2099 after events of today once made the alert engine step through every minute in
#: between (the worker stalled); tests/hostile/test_validation.py keeps it from coming back.
FAR_FUTURE: Final = "a valid event dated 2099 after events of today"
SNAPSHOT_KEYS: Final = {"incident": "incident_id", "outage": "outage_id", "maintenance": "maintenance_id"}
ANY: Final = "*"


def _elfproef_bsn(rng: random.Random) -> str:
    """A nine-digit number that passes the BSN check (weights 9…2, −1; a multiple of 11)."""
    while True:
        digits = [rng.randrange(1, 10)] + [rng.randrange(10) for _ in range(7)]
        total = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True))
        last = total % 11
        if last < 10:
            return "".join(map(str, [*digits, last]))


_RNG = random.Random(17)
#: The BSNs of the corpus: valid check digits, so that they look exactly like real ones.
BSNS: Final[tuple[str, ...]] = tuple(_elfproef_bsn(_RNG) for _ in range(40))


@dataclass(frozen=True)
class Case:
    kind: str
    name: str
    line: bytes
    expect: str
    needles: tuple[bytes, ...] = ()
    #: the topic to send it to directly (None: its type's, or sno.authentications for non-events)
    topic: str | None = None
    #: a problem this case finds outside the input side, left to its owner: the pipeline runs leave the
    #: case out (their verdicts would depend on it) and a strict xfail test reproduces it
    known_issue: str | None = None


def base(event_type: str) -> dict[str, Any]:
    return json.loads((GOLDEN / f"{event_type}.json").read_text(encoding="utf-8"))["base"]


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


@dataclass
class _Builder:
    cases: list[Case] = field(default_factory=list)
    bsn_index: int = 0
    ids: int = 0

    def bsn(self) -> str:
        value = BSNS[self.bsn_index % len(BSNS)]
        self.bsn_index += 1
        return value

    def event(self, event_type: str = "authentication", **extra: Any) -> dict[str, Any]:
        self.ids += 1
        key = SNAPSHOT_KEYS.get(event_type)
        event = {**base(event_type), "event_id": f"hostile-{self.ids:05d}", **extra}
        if key:
            event[key] = f"HOSTILE-{self.ids:05d}"
        return event

    def add(self, kind: str, name: str, line: bytes, expect: str, *needles: str | bytes,
            topic: str | None = None, known_issue: str | None = None) -> None:
        forms = tuple(n.encode("utf-8", "surrogatepass") if isinstance(n, str) else n for n in needles)
        self.cases.append(Case(kind, name, line, expect, forms, topic, known_issue))


def _bsn_shapes(b: _Builder, deep: int) -> None:
    """A BSN field in every shape: key spellings, value shapes, depths, and inside invalid lines."""
    keys = {
        "plain": "bsn", "upper": "BSN", "mixed": "bSn", "spaced": " bsn ", "nul": "bsn\u0000",
        "fullwidth": "ｂｓｎ", "long s": "bſn", "zero width": "b\u200bsn", "combining": "b\u0301sn",
        "mathematical": "\U0001d41b\U0001d42c\U0001d427", "circled": "ⓑⓢⓝ",
    }
    for label, key in keys.items():
        value = b.bsn()
        b.add("bsn", f"key {label}", dumps(b.event(**{key: value})), "bsn_forbidden", value)
    for label, escaped in {
        "escaped b": '"\\u0062sn"', "escaped all": '"\\u0042\\u0053\\u004E"', "escaped s": '"b\\u0073n"',
        "escaped zero width": '"b\\u200bsn"',
        "surrogate pairs": '"\\ud835\\udc1b\\ud835\\udc2c\\ud835\\udc27"',
        "escaped fullwidth": '"\\uff42\\uff53\\uff4e"',
    }.items():
        value = b.bsn()
        line = dumps(b.event())[:-1] + f',{escaped}:"{value}"}}'.encode()
        b.add("bsn", f"key {label}", line, "bsn_forbidden", value)
    for label in ("string", "number", "array", "object", "nested array", "spaced", "dotted",
                  "fullwidth digits", "array of objects"):
        value = b.bsn()
        if label == "string":
            field_value: Any = value
            needles: tuple[str, ...] = (value,)
        elif label == "number":
            field_value = int(value)
            needles = (value,)
        elif label == "array":
            other = b.bsn()
            field_value = [value, other]
            needles = (value, other)
        elif label == "object":
            field_value = {"nummer": value, "soort": "burger"}
            needles = (value,)
        elif label == "nested array":
            field_value = [[value], {"x": [value]}]
            needles = (value,)
        elif label == "spaced":
            field_value = f"{value[:3]} {value[3:6]} {value[6:]}"
            needles = (field_value,)
        elif label == "dotted":
            field_value = f"{value[:4]}.{value[4:6]}.{value[6:]}"
            needles = (field_value,)
        elif label == "fullwidth digits":
            field_value = "".join(chr(0xFF10 + int(d)) for d in value)
            needles = (field_value,)
        else:
            field_value = [{"bsn": value}, {"naam": "x"}]
            needles = (value,)
        b.add("bsn", f"value {label}", dumps(b.event(bsn=field_value)), "bsn_forbidden", *needles)
    value = b.bsn()
    b.add("bsn", "nested object", dumps(b.event(citizen={"adres": {"bsn": value}})), "bsn_forbidden", value)
    value = b.bsn()
    b.add("bsn", "inside array of objects", dumps(b.event(people=[{"naam": "a"}, {"Bsn": value}])),
          "bsn_forbidden", value)
    value = b.bsn()
    b.add("bsn", "repeated key", dumps(b.event())[:-1] + f',"bsn":"x","bsn":"{value}"}}'.encode(),
          "bsn_forbidden", value)
    value = b.bsn()
    b.add("bsn", "escaped digits", dumps(b.event())[:-1] + b',"bsn":"' +
          "".join(f"\\u{ord(c):04x}" for c in value).encode() + b'"}', "bsn_forbidden",
          value, "".join(f"\\u{ord(c):04x}" for c in value))
    # Depth: a BSN at the bottom of nesting that the validator refuses to parse (too_deep), so the dead
    # letter is redacted on the bytes; also deeper than orjson parses (1,024) and serialises (~254).
    for depth in sorted({66, 300, 1100, deep}):
        value = b.bsn()
        inner = dumps({"bsn": value})
        line = dumps(b.event())[:-1] + b',"x":' + b'{"a":' * depth + inner + b"}" * depth + b"}"
        b.add("bsn", f"under {depth} objects", line, "too_deep", value)
        value = b.bsn()
        line = dumps(b.event())[:-1] + b',"x":' + b"[" * depth + inner + b"]" * depth + b"}"
        b.add("bsn", f"under {depth} arrays", line, "too_deep", value)
    # Inside lines that are not JSON.
    broken = {
        "truncated after the value": lambda v: dumps(b.event())[:-1] + f',"bsn":"{v}","x":'.encode(),
        "truncated inside the value": lambda v: dumps(b.event())[:-1] + f',"bsn":"{v}'.encode(),
        "unterminated array": lambda v: dumps(b.event())[:-1] + f',"bsn":["{v}",'.encode(),
        "single quotes": lambda v: f"{{'type': 'authentication', 'bsn': '{v}'}}".encode(),
        "unquoted key": lambda v: f"{{type: authentication, bsn: {v}}}".encode(),
        "key=value": lambda v: f"type=authentication&bsn={v}&x=1".encode(),
        "escaped key, broken": lambda v: f'{{"\\u0062sn": "{v}", "x": '.encode(),
        "JSON inside a string": lambda v: dumps(b.event())[:-1]
        + f',"p":"{{\\"bsn\\": \\"{v}\\"}}",'.encode(),
        "mention in free text": lambda v: f'{{"title": "BSN {v} onbekend", "x": '.encode(),
        "broken quote before the end": lambda v: f'{{"bsn": ["{v[:4]}, "]", {v}], "x": '.encode(),
        "fullwidth key, broken": lambda v: f'{{"ｂｓｎ": "{v}", '.encode(),
        "trailing comma": lambda v: dumps(b.event())[:-1] + f',"bsn":{{"n":"{v}"}},}}'.encode(),
        "NaN next to it": lambda v: dumps(b.event())[:-1] + f',"bsn":"{v}","n":NaN}}'.encode(),
        "invalid UTF-8 next to it": lambda v: dumps(b.event())[:-1]
        + f',"bsn":"{v}","n":"'.encode() + b'\xff"}',
    }
    for label, make in broken.items():
        value = b.bsn()
        b.add("bsn", f"not JSON: {label}", make(value), ANY, value)


def _huge(b: _Builder, big: int) -> None:
    """Lines over 1 MiB (kept as a 256 KiB prefix in the dead letter), one exactly at the limit."""
    limit = 1024 * 1024
    event = dumps(b.event())
    pad = limit - len(event) - len(b',"pad":""')
    b.add("huge", "exactly 1 MiB, valid", event[:-1] + b',"pad":"' + b"x" * pad + b'"}', OK)
    b.add("huge", "1 MiB + 1 byte", event[:-1] + b',"pad":"' + b"x" * (pad + 1) + b'"}', "too_large")
    value = b.bsn()
    b.add("huge", "BSN at the start of a long line", dumps(b.event(bsn=value))[:-1] + b',"pad":"' +
          b"y" * (2 * limit) + b'"}', "too_large", value)
    value = b.bsn()
    cut = 256 * 1024
    head = dumps(b.event())[:-1] + b',"pad":"' + b"z" * (cut - len(event) - 20) + b'","bsn":"'
    b.add("huge", "BSN cut by the 256 KiB prefix", head + value.encode() + b'","x":"' + b"w" * limit + b'"}',
          "too_large", value)
    value = b.bsn()
    b.add("huge", "BSN beyond the prefix", dumps(b.event())[:-1] + b',"pad":"' + b"q" * limit +
          f'","bsn":"{value}"}}'.encode(), "too_large", value)
    b.add("huge", f"{big // limit} MiB of one character", b"a" * big, "too_large")
    b.add("huge", "1 MiB of brackets", b"[" * (limit - 1), "too_deep")


def _deep(b: _Builder, deepest: int) -> None:
    depths = sorted({63, 64, 65, 255, 1024, 1025, deepest})
    for depth in depths:
        # `x` nested under the event: the line's object is level 1, so `depth` levels below make depth+1.
        value = b'{"a":' * (depth - 1) + b"1" + b"}" * (depth - 1) if depth > 1 else b"1"
        line = dumps(b.event())[:-1] + b',"x":' + value + b"}"
        b.add("deep", f"event with objects {depth} deep", line, OK if depth <= 64 else "too_deep")
        value = b"[" * (depth - 1) + b"]" * (depth - 1)
        line = dumps(b.event())[:-1] + b',"x":' + value + b"}"
        b.add("deep", f"event with arrays {depth} deep", line, OK if depth <= 64 else "too_deep")
    for depth in (65, 1025, deepest):
        b.add("deep", f"bare array {depth} deep", b"[" * depth + b"]" * depth, "too_deep")
        b.add("deep", f"unbalanced {depth} open", b"[" * depth, "too_deep")
        b.add("deep", f"{depth} brackets inside a string", dumps(b.event(title="[" * depth)), OK)


def _unicode(b: _Builder) -> None:
    event = dumps(b.event())
    b.add("unicode", "byte order mark", b"\xef\xbb\xbf" + event, "not_json")
    b.add("unicode", "lone surrogate escape", event[:-1] + b',"x":"\\ud800"}', "not_json")
    b.add("unicode", "overlong UTF-8", event[:-1] + b',"x":"\xc0\xaf"}', "not_json")
    b.add("unicode", "UTF-16", json.dumps(b.event()).encode("utf-16"), "not_json")
    b.add("unicode", "Cyrillic a in the type", dumps(b.event(type="аuthentication")), "unknown_type")
    b.add("unicode", "zero width space after the service", dumps(b.event(service="digid\u200b")),
          "invalid_field")
    b.add("unicode", "fullwidth digits in an instant",
          dumps(b.event(started_at="２０２６-04-02T10:00:00+02:00")), "invalid_field")
    b.add("unicode", "emoji event id", dumps(b.event(event_id="🙂" * 128)), OK)
    b.add("unicode", "129 emoji event id", dumps(b.event(event_id="🙂" * 129)), "invalid_field")
    b.add("unicode", "right-to-left override in the event id", dumps(b.event(event_id="a\u202eb-rtl")), OK)
    b.add("unicode", "NUL in the event id", dumps(b.event(event_id="nul\u0000id")), OK)
    b.add("unicode", "escaped type", event.replace(b'"authentication"', b'"\\u0061uthentication"', 1), OK)
    b.add("unicode", "NFC and NFD keys are two keys", dumps(b.event(**{"é": 1, "e\u0301": 2})), OK)
    b.add("unicode", "Dutch title", dumps(b.event("incident", title="Storing bij inloggen — ë ï é")), OK)


def _instants(b: _Builder) -> None:
    def auth(started: str, completed: str = "2026-04-02T10:00:01+02:00") -> bytes:
        return dumps(b.event(started_at=started, completed_at=completed))

    for label, started, expect in [
        ("leap second", "2026-06-30T23:59:60Z", "invalid_field"),
        ("hour 24", "2026-04-02T24:00:00+02:00", "invalid_field"),
        ("offset 24:00", "2026-04-02T10:00:00+24:00", "invalid_field"),
        ("29 February 2026", "2026-02-29T10:00:00+01:00", "invalid_field"),
        ("month 13", "2026-13-01T10:00:00+01:00", "invalid_field"),
        ("no seconds", "2026-04-02T10:00+02:00", "invalid_field"),
        ("space separator", "2026-04-02 10:00:00+02:00", "invalid_field"),
        ("offset without colon", "2026-04-02T10:00:00+0200", "invalid_field"),
        ("naive", "2026-04-02T10:00:00", "naive_instant"),
        ("date only", "2026-04-02", "naive_instant"),
        ("year 1999", "1999-12-31T23:00:00Z", "invalid_field"),
        ("year 2100", "2100-01-01T00:00:00Z", "invalid_field"),
        ("1999 in UTC", "2000-01-01T00:30:00+01:00", "invalid_field"),
        ("empty fraction", "2026-04-02T10:00:00.+02:00", "invalid_field"),
    ]:
        b.add("instant", label, auth(started), expect)
    b.add("instant", "2100 in UTC", auth("2026-04-02T10:00:00+02:00", "2099-12-31T23:30:00-01:00"),
          "invalid_field")
    b.add("instant", "Unix timestamp", dumps(b.event(started_at=1775116800)), "invalid_field")
    b.add("instant", "completed before started", auth("2026-04-02T10:00:02+02:00"), "order_violation")
    for label, started, completed in [
        ("first instant of 2000", "2000-01-01T00:00:00Z", "2000-01-01T00:00:00.5Z"),
        ("last instant of 2099", "2099-12-31T23:59:58Z", "2099-12-31T23:59:59.999999Z"),
        ("2000 from a negative offset", "2000-01-01T00:30:00-01:00", "2000-01-01T00:31:00-01:00"),
        ("lower-case t and z", "2026-04-02t10:00:00z", "2026-04-02t10:00:01z"),
        ("minus zero offset", "2026-04-02T08:00:00-00:00", "2026-04-02T08:00:01-00:00"),
        ("ten fraction digits", "2026-04-02T10:00:00.1234567890+02:00", "2026-04-02T10:00:01+02:00"),
        ("29 February 2028", "2028-02-29T10:00:00+01:00", "2028-02-29T10:00:01+01:00"),
        ("offset +14:00", "2026-04-02T22:00:00+14:00", "2026-04-02T22:00:01+14:00"),
        ("equal instants", "2026-04-02T10:00:00+02:00", "2026-04-02T08:00:00Z"),
        ("escaped digits", "\\u0032026-04-02T10:00:00+02:00", "2026-04-02T10:00:01+02:00"),
    ]:
        line = dumps(b.event(started_at=started, completed_at=completed)).replace(b"\\\\u", b"\\u")
        b.add("instant", label, line, OK)


def _duplicates(b: _Builder) -> None:
    event = dumps(b.event())
    b.add("duplicate", "type twice", event[:-1] + b',"type":"message"}', "duplicate_key")
    b.add("duplicate", "event_id twice", event[:-1] + b',"event_id":"other"}', "duplicate_key")
    b.add("duplicate", "same value twice", event[:-1] + b',"outcome":"success"}', "duplicate_key")
    b.add("duplicate", "twice through an escape", event[:-1] + b',"\\u0074ype":"authentication"}',
          "duplicate_key")
    b.add("duplicate", "spaced as pretty printers do", json.dumps({**b.event(), "x": 1}, indent=1).replace(
        "\n", "").encode()[:-1] + b', "x" : 2}', "duplicate_key")
    b.add("duplicate", "inside a nested object", dumps(b.event())[:-1] + b',"x":{"a":1,"a":2}}',
          "duplicate_key")
    b.add("duplicate", "same key in two objects", dumps(b.event(x={"a": 1}, y={"a": 2})), OK)
    b.add("duplicate", "colon inside strings", dumps(b.event(title='"a": "b", "c": 1', z='\\":')), OK)


def _odd_json(b: _Builder) -> None:
    for label, line, expect in [
        ("empty object", b"{}", "missing_field"),
        ("null", b"null", "not_object"),
        ("a number", b"123456", "not_object"),
        ("a string", b'"authentication"', "not_object"),
        ("an array of events", b"[" + dumps(b.event()) + b"]", "not_object"),
        ("two objects on one line", dumps(b.event()) + dumps(b.event()), "not_json"),
        ("NaN", dumps(b.event())[:-1] + b',"x":NaN}', "not_json"),
        ("huge number", dumps(b.event())[:-1] + b',"x":1' + b"0" * 400 + b"}", "not_json"),
        ("huge integer count", dumps(b.event("message", attachment_count=2**63)), "invalid_field"),
        ("type is a number", dumps(b.event(type=1)), "unknown_type"),
        ("type is null", dumps(b.event(type=None)), "unknown_type"),
        ("control character", dumps(b.event())[:-1] + b',"x":"a\x01b"}', "not_json"),
        ("only spaces and a tab", b" \t x", "not_json"),
    ]:
        b.add("odd json", label, line, expect)


def _random(b: _Builder, count: int, seed: int) -> None:
    rng = random.Random(seed)
    for index in range(count):
        size = rng.choice((1, 2, 7, 40, 300, 5000))
        data = bytes(rng.randrange(256) for _ in range(size)).replace(b"\n", b" ").replace(b"\r", b" ")
        if not data.strip() or data.strip(b" \t\x0b\x0c") == b"":
            data = b"\x00" + data
        b.add("random bytes", f"random {index}", data, ANY)


def build(*, deep: int, big: int, randoms: int, seed: int = 17) -> list[Case]:
    b = _Builder()
    _bsn_shapes(b, deep)
    _huge(b, big)
    _deep(b, deep)
    _unicode(b)
    _instants(b)
    _duplicates(b)
    _odd_json(b)
    _random(b, randoms, seed)
    return b.cases


def pipeline(cases: list[Case]) -> list[Case]:
    """The cases the pipeline runs send: all but those that find a known problem elsewhere."""
    return [case for case in cases if case.known_issue is None]


def quick() -> list[Case]:
    """The variant of `make test`: every class, moderate sizes (nesting to 100,000 still: it is cheap)."""
    return build(deep=100_000, big=3 * 1024 * 1024, randoms=150)


def full() -> list[Case]:
    """The slow variant: a 20 MiB line and thousands of random lines."""
    return build(deep=100_000, big=20 * 1024 * 1024, randoms=3000, seed=29)


def wrong_topic_cases(count: int = 5) -> list[Case]:
    """Valid events sent to another type's topic: dead-lettered there (`wrong_topic`), counted only on
    their own topic (where each is also sent)."""
    b = _Builder(ids=90_000)
    out = []
    for index in range(count):
        event = dumps(b.event("authentication" if index % 2 else "message"))
        wrong = TOPICS["message"] if index % 2 else TOPICS["authentication"]
        out.append(Case("wrong topic", f"on {wrong} {index}", event, "wrong_topic", (), wrong))
        out.append(Case("wrong topic", f"on its own topic {index}", event, OK))
    return out


def baseline(count: int = 60) -> list[bytes]:
    """Valid events of a normal month: what the KPIs are computed from before and after the attack."""
    out = []
    types = ["authentication"] * 3 + ["transaction", "message", "notification", "api_request",
                                      "support_contact"]
    for index in range(count):
        event_type = types[index % len(types)]
        event = {**base(event_type), "event_id": f"baseline-{index:04d}"}
        out.append(dumps(event))
    for event_type in ("incident", "outage", "maintenance", "forecast"):
        out.append(dumps(base(event_type)))
    return out


def topic_for(case: Case) -> str:
    """Where a producer following docs/events.md sends the line: its type's topic (unless the case says
    otherwise); a line without a known type goes to sno.authentications."""
    if case.topic is not None:
        return case.topic
    try:
        kind = json.loads(case.line)["type"]
        return TOPICS[kind]
    except Exception:
        return TOPICS["authentication"]


def needles(cases: list[Case]) -> set[bytes]:
    """Every BSN spelling the cases carry, and each BSN's digits plain (whatever spelling carried it)."""
    found: set[bytes] = set()
    for case in cases:
        found.update(n for n in case.needles if n)
    found.update(bsn.encode() for bsn in BSNS)
    return found


def write_jsonl(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def truncated_gzip(path: Path, lines: list[bytes], keep: float = 0.6) -> Path:
    """A gzip file cut short, as a copy interrupted mid-transfer leaves it."""
    data = gzip.compress(b"".join(line + b"\n" for line in lines))
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def by_kind(cases: list[Case]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for case in cases:
        counts[case.kind] = counts.get(case.kind, 0) + 1
    return counts


def lines_of(cases: list[Case]) -> Iterator[bytes]:
    return (case.line for case in cases)
