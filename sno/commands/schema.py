"""`sno schema [TYPE]`: print the JSON Schema of the event contract, for producers in other teams."""

from __future__ import annotations

import click

from schemas.events import EVENT_TYPES
from schemas.generate import render, schema_for


@click.command(name="schema")
@click.argument("event_type", metavar="[TYPE]", required=False)
def command(event_type: str | None) -> None:
    """Print the JSON Schema of all event types, or of one TYPE.

    The output is the same as the published files under schemas/json/ (a test keeps them equal).
    """
    if event_type is not None and event_type not in EVENT_TYPES:
        click.echo(f"error: unknown event type {event_type!r}; known: {', '.join(EVENT_TYPES)}", err=True)
        raise SystemExit(2)
    click.echo(render(schema_for(event_type)), nl=False)
