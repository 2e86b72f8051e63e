"""The event contract (docs/events.md, version 1.1) as pydantic models.

These models are the executable form of the contract that producers in other teams code against, so
they are deliberately strict about types (an integer is a JSON integer, a boolean a JSON boolean, an
instant an RFC 3339 string with a UTC offset) and lenient only where the contract says so: unknown
fields are ignored. Enumerations are `Literal` strings rather than `Enum` classes so that
`model_dump()` yields exactly the plain strings the SNO core consumes (R1: instants stay aware).

Every model validates a parsed JSON object (`validate_python` on what orjson produced). The checks
that no type annotation expresses — an instant that must not precede another, a resolved incident
that needs `resolved_at` — raise `PydanticCustomError` with the reason code of `schemas.validate`
as their error type, so the validator can pass them on without guessing.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    TypeAdapter,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from sno.core.topics import ALERTS_TOPIC, DEADLETTER_TOPIC, TOPICS

__all__ = [
    "ALERTS_TOPIC",
    "CONTRACT_VERSION",
    "DEADLETTER_TOPIC",
    "EVENT_MODELS",
    "EVENT_TYPES",
    "INSTANT_PATTERN",
    "KEY_FIELDS",
    "MAX_INT",
    "TOPICS",
    "ApiRequestEvent",
    "AuthenticationEvent",
    "Event",
    "EventBase",
    "ForecastEvent",
    "IncidentEvent",
    "Instant",
    "MaintenanceEvent",
    "MessageEvent",
    "NotificationEvent",
    "OutageEvent",
    "SupportContactEvent",
    "TransactionEvent",
    "as_record",
    "event_adapter",
    "key_of",
    "topic_of",
]

#: Version of docs/events.md that these models implement; published in every JSON Schema file. 1.1 adds the
#: outage fields `ddos` and `analysis`, both optional, so every version 1 event is a valid 1.1 event.
CONTRACT_VERSION: Final = "1.1"

#: Event types in the order of docs/events.md.
EVENT_TYPES: Final[tuple[str, ...]] = tuple(TOPICS)

#: Field whose value is the Kafka key. Snapshots are keyed by the thing they describe, so that every
#: snapshot of one incident, outage or maintenance window lands in one partition, in order.
KEY_FIELDS: Final[dict[str, str]] = {
    **{event_type: "event_id" for event_type in TOPICS},
    "incident": "incident_id",
    "outage": "outage_id",
    "maintenance": "maintenance_id",
}

#: Counts are stored as signed 64-bit integers downstream; a larger number could only be an error and
#: would otherwise fail at insert time, inside the worker.
MAX_INT: Final = 2**63 - 1

#: RFC 3339 date-time with a mandatory offset (`Z` or `±hh:mm`), in the years 2000–2099. Field ranges
#: (month 13, hour 25) are checked by the datetime parser that runs after this pattern. The year range
#: keeps every instant storable (ClickHouse DateTime runs 1970–2106) and judgeable by the calendar: an
#: event dated 0001 or 9999 is a producer's bug and goes to the dead letters, not into a rollup.
INSTANT_PATTERN: Final = r"^20\d{2}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
#: The same without the offset: an instant that is otherwise well formed but naive.
NAIVE_INSTANT_PATTERN: Final = re.compile(r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")


class _InstantSchema:
    """Pydantic hooks for `Instant`.

    A chain of a strict string with the RFC 3339 pattern and an aware datetime runs entirely in
    pydantic-core (no Python call per field), refuses Unix timestamps (numbers) and naive strings,
    and yields a timezone-aware `datetime` as R1 requires.
    """

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.chain_schema(
            [
                core_schema.str_schema(strict=True, pattern=INSTANT_PATTERN),
                core_schema.datetime_schema(strict=False, tz_constraint="aware"),
            ]
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "format": "date-time", "pattern": INSTANT_PATTERN}


#: An instant: RFC 3339 with an explicit UTC offset; validated to an aware `datetime` (R1).
Instant = Annotated[datetime, _InstantSchema]
Count = Annotated[int, Field(ge=0, le=MAX_INT)]

Service = Literal["digid", "digid-machtigen", "mijnoverheid"]
Environment = Literal["production", "preproduction"]
Outcome = Literal["success", "failure", "cancelled", "error"]
Cause = Literal["logius", "afnemer", "internet", "force_majeure", "dependency"]
Level3 = Literal["hoog", "midden", "laag"]

#: An afnemer's OIN (docs/events.md: "the customer organisation (OIN, 20 digits)").
Oin = Annotated[str, StringConstraints(pattern=r"^[0-9]{20}$")]
#: Identifier of the thing a snapshot describes; bounded like `event_id`.
EntityId = Annotated[str, StringConstraints(min_length=1, max_length=128)]


def _order(earlier: datetime, later: datetime | None, earlier_name: str, later_name: str) -> None:
    """Reject `later` before `earlier`; the events that the SNO core measures durations of (R14, R18,
    R20) must not have negative durations, which would silently count as 'within the limit'."""
    if later is not None and later < earlier:
        raise PydanticCustomError(
            "order_violation",
            "{field} is before {other}",
            {"field": later_name, "other": earlier_name},
        )


def _field_error(code: str, field: str, message: str) -> PydanticCustomError:
    """A cross-field failure named by its reason code and the field at fault."""
    return PydanticCustomError(code, message, {"field": field})


class EventBase(BaseModel):
    """The common fields of docs/events.md.

    Strict mode makes a JSON string never pass for a number or a boolean; `extra="ignore"` keeps
    producers free to add fields (they are dropped, not stored).
    """

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    type: str = Field(description="The event type; selects the model and the topic.")
    event_id: str = Field(
        min_length=1,
        max_length=128,
        description="Unique per event; a second event with the same event_id and type within 24 hours "
        "of event time is a duplicate and is counted once.",
    )
    service: Service
    environment: Environment = "production"
    afnemer_id: Oin | None = Field(default=None, description="The afnemer (customer organisation): its OIN.")


class AuthenticationEvent(EventBase):
    """A DigiD authentication: counted for volume and peaks (R15) and processing time (R14)."""

    model_config = ConfigDict(json_schema_extra={"x-topic": TOPICS["authentication"], "x-key": "event_id"})

    type: Literal["authentication"]
    started_at: Instant
    completed_at: Instant = Field(description="Not before started_at.")
    outcome: Outcome
    level: Literal["basis", "midden", "laag", "2f", "substantieel", "hoog"] | None = None

    @model_validator(mode="after")
    def _completed_after_start(self) -> AuthenticationEvent:
        _order(self.started_at, self.completed_at, "started_at", "completed_at")
        return self


class TransactionEvent(EventBase):
    """A DigiD Machtigen transaction: the same measures as an authentication (R14, R15)."""

    model_config = ConfigDict(json_schema_extra={"x-topic": TOPICS["transaction"], "x-key": "event_id"})

    type: Literal["transaction"]
    started_at: Instant
    completed_at: Instant = Field(description="Not before started_at.")
    outcome: Outcome
    operation: Literal["verifieren", "aanvragen", "activeren", "inzien", "balie"] | None = None

    @model_validator(mode="after")
    def _completed_after_start(self) -> TransactionEvent:
        _order(self.started_at, self.completed_at, "started_at", "completed_at")
        return self


class MessageEvent(EventBase):
    """A Berichtenbox message (R18, R19, R23)."""

    model_config = ConfigDict(json_schema_extra={"x-topic": TOPICS["message"], "x-key": "event_id"})

    type: Literal["message"]
    received_at: Instant
    processed_at: Instant | None = Field(
        default=None, description="Null while pending; not before received_at."
    )
    status: Literal["accepted", "rejected"]
    attachment_count: Count
    attachment_bytes: Count

    @model_validator(mode="after")
    def _processed_after_receipt(self) -> MessageEvent:
        _order(self.received_at, self.processed_at, "received_at", "processed_at")
        return self


class NotificationEvent(EventBase):
    """An e-mail or app notice of a new message (R18)."""

    model_config = ConfigDict(json_schema_extra={"x-topic": TOPICS["notification"], "x-key": "event_id"})

    type: Literal["notification"]
    queued_at: Instant
    sent_at: Instant | None = Field(default=None, description="Null while pending; not before queued_at.")
    channel: Literal["email", "app"]

    @model_validator(mode="after")
    def _sent_after_queueing(self) -> NotificationEvent:
        _order(self.queued_at, self.sent_at, "queued_at", "sent_at")
        return self


class ApiRequestEvent(EventBase):
    """A request to one of the MijnOverheid afnemer APIs (R18)."""

    model_config = ConfigDict(json_schema_extra={"x-topic": TOPICS["api_request"], "x-key": "event_id"})

    type: Literal["api_request"]
    api: Literal[
        "berichtpresentatie",
        "validatieservice",
        "abonnement-alles",
        "abonnement-bsn-lijst",
        "abonnement-mutatiebasis",
    ]
    received_at: Instant
    completed_at: Instant = Field(description="Not before received_at.")
    status_code: int = Field(ge=100, le=599, description="The HTTP status code of the response.")
    bsn_count: Count = Field(
        description="How many citizen numbers the request carried (a count, never the numbers)."
    )

    @model_validator(mode="after")
    def _completed_after_receipt(self) -> ApiRequestEvent:
        _order(self.received_at, self.completed_at, "received_at", "completed_at")
        return self


class IncidentEvent(EventBase):
    """A snapshot of an incident; the latest `updated_at` wins (R10–R13)."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-topic": TOPICS["incident"],
            "x-key": "incident_id",
            "allOf": [
                {
                    "if": {"properties": {"status": {"const": "resolved"}}},
                    "then": {"required": ["resolved_at"], "properties": {"resolved_at": {"type": "string"}}},
                    "else": {"properties": {"resolved_at": {"type": "null"}}},
                }
            ],
        }
    )

    type: Literal["incident"]
    incident_id: EntityId
    updated_at: Instant
    status: Literal["open", "resolved"]
    impact: Level3
    urgency: Level3
    detected_at: Instant
    notified_at: Instant | None = None
    resolved_at: Instant | None = Field(
        default=None, description="Required when status is resolved, null while open; not before detected_at."
    )
    cause: Cause | None = None
    title: str | None = Field(default=None, description="Free text, left out of public reports (R23).")

    @model_validator(mode="after")
    def _resolution_consistent(self) -> IncidentEvent:
        if self.status == "resolved" and self.resolved_at is None:
            raise _field_error(
                "missing_field", "resolved_at", "resolved_at is required when status is resolved"
            )
        if self.status == "open" and self.resolved_at is not None:
            raise _field_error(
                "invalid_field", "resolved_at", "resolved_at must be null while status is open"
            )
        _order(self.detected_at, self.resolved_at, "detected_at", "resolved_at")
        return self


class OutageEvent(EventBase):
    """A snapshot of a period of unavailability (R6–R8)."""

    model_config = ConfigDict(json_schema_extra={"x-topic": TOPICS["outage"], "x-key": "outage_id"})

    type: Literal["outage"]
    outage_id: EntityId
    updated_at: Instant
    started_at: Instant
    ended_at: Instant | None = Field(default=None, description="Null while ongoing; not before started_at.")
    cause: Cause | None = None
    function: str | None = Field(
        default=None, description="Which function of the service was down; `website` is www.digid.nl (R7)."
    )
    title: str | None = Field(default=None, description="Free text, left out of public reports (R23).")
    ddos: bool = Field(
        default=False,
        description="The disruption was a DDoS attack: it counts as its cause says, and the report writes "
        "no disruption analysis for it (R24). Contract 1.1; absent in version 1 events.",
    )
    analysis: str | None = Field(
        default=None,
        description="The service owner's disruption analysis (free text, R24), left out of public reports "
        "(R23). Contract 1.1.",
    )

    @model_validator(mode="after")
    def _ended_after_start(self) -> OutageEvent:
        _order(self.started_at, self.ended_at, "started_at", "ended_at")
        return self


class MaintenanceEvent(EventBase):
    """A snapshot of a maintenance window (R8, R9).

    `announced_at` may be after `starts_at`: a late announcement is valid input that R9 judges (the
    window then counts as unavailability), so it must reach the core rather than the dead-letter topic.
    """

    model_config = ConfigDict(json_schema_extra={"x-topic": TOPICS["maintenance"], "x-key": "maintenance_id"})

    type: Literal["maintenance"]
    maintenance_id: EntityId
    updated_at: Instant
    kind: Literal["planned", "emergency"]
    status: Literal["scheduled", "cancelled"]
    announced_at: Instant
    starts_at: Instant
    ends_at: Instant = Field(description="Not before starts_at.")
    component: Literal["portaal-technisch", "portaal-functioneel", "berichtenbox"] | None = Field(
        default=None, description="MijnOverheid only: which component the window is for (R9)."
    )

    @model_validator(mode="after")
    def _ends_after_start(self) -> MaintenanceEvent:
        _order(self.starts_at, self.ends_at, "starts_at", "ends_at")
        return self


class SupportContactEvent(EventBase):
    """A citizen or afnemer contact with the service desk (R20, R21)."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-topic": TOPICS["support_contact"],
            "x-key": "event_id",
            "allOf": [
                {
                    "if": {"properties": {"abandoned": {"const": True}}},
                    "then": {"properties": {"answered_at": {"type": "null"}}},
                }
            ],
        }
    )

    type: Literal["support_contact"]
    channel: Literal["phone", "email", "webform", "twitter", "afnemer"]
    received_at: Instant
    answered_at: Instant | None = Field(
        default=None, description="Null when not answered or abandoned; not before received_at."
    )
    abandoned: bool = Field(
        description="True when the caller hung up before an answer; answered_at is then null."
    )
    satisfaction: int | None = Field(default=None, ge=1, le=10)
    kind: Literal["question", "complaint", "incident"]

    @model_validator(mode="after")
    def _answer_consistent(self) -> SupportContactEvent:
        if self.abandoned and self.answered_at is not None:
            raise _field_error(
                "invalid_field", "answered_at", "answered_at must be null when abandoned is true"
            )
        _order(self.received_at, self.answered_at, "received_at", "answered_at")
        return self


class ForecastEvent(EventBase):
    """An afnemer's forecast of its message count for one month (R19)."""

    model_config = ConfigDict(json_schema_extra={"x-topic": TOPICS["forecast"], "x-key": "event_id"})

    type: Literal["forecast"]
    afnemer_id: Oin = Field(description="The afnemer (customer organisation): its OIN. Required here.")
    month: str = Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="The forecast month, YYYY-MM.")
    messages: Count


#: One model per type, in the order of docs/events.md.
EVENT_MODELS: Final[dict[str, type[EventBase]]] = {
    "authentication": AuthenticationEvent,
    "transaction": TransactionEvent,
    "message": MessageEvent,
    "notification": NotificationEvent,
    "api_request": ApiRequestEvent,
    "incident": IncidentEvent,
    "outage": OutageEvent,
    "maintenance": MaintenanceEvent,
    "support_contact": SupportContactEvent,
    "forecast": ForecastEvent,
}

#: Any event of the contract, discriminated by `type`.
Event = Annotated[
    AuthenticationEvent
    | TransactionEvent
    | MessageEvent
    | NotificationEvent
    | ApiRequestEvent
    | IncidentEvent
    | OutageEvent
    | MaintenanceEvent
    | SupportContactEvent
    | ForecastEvent,
    Field(discriminator="type"),
]

_EVENT_ADAPTER: TypeAdapter[Any] | None = None


def event_adapter() -> TypeAdapter[Any]:
    """The `TypeAdapter` of the whole union, built once: building it costs milliseconds."""
    global _EVENT_ADAPTER
    if _EVENT_ADAPTER is None:
        _EVENT_ADAPTER = TypeAdapter(Event)
    return _EVENT_ADAPTER


def as_record(event: EventBase) -> dict[str, Any]:
    """The plain dict that the SNO core consumes (R1: aware datetimes; enums as plain strings; absent
    optional fields as None; `environment` defaulted to production; unknown fields gone)."""
    return event.model_dump()


def topic_of(event: EventBase) -> str:
    """The topic an event is published to (docs/events.md, "Types and topics")."""
    return TOPICS[event.type]  # type: ignore[attr-defined]


def key_of(event: EventBase) -> str:
    """The Kafka key: the snapshot's own id for incidents, outages and maintenance (so the latest
    snapshot of one thing is decided within one partition), the event id otherwise."""
    return getattr(event, KEY_FIELDS[event.type])  # type: ignore[attr-defined]
