"""Generate the published JSON Schema files of the event contract from the pydantic models.

The files under schemas/json/ are committed so that producers can read them without installing the
project; a test fails when they differ from what the models generate, so they cannot drift. Run
`python -m schemas.generate` after changing a model, `python -m schemas.generate --check` in CI.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Final

from pydantic import TypeAdapter

from schemas.events import CONTRACT_VERSION, EVENT_MODELS, Event

__all__ = ["JSON_DIR", "UNION_NAME", "check", "generated_files", "main", "render", "schema_for", "write"]

#: Where the committed schema files live (shipped as package data).
JSON_DIR: Final = Path(__file__).parent / "json"
#: File stem of the schema of the whole union (`event.json`); the types have their own names.
UNION_NAME: Final = "event"
_DRAFT: Final = "https://json-schema.org/draft/2020-12/schema"

# The `bsn` rule (a key named bsn, any case, at any depth) in JSON Schema: a recursive definition that
# constrains the property names of every object and looks into every value and array item. Keywords
# for objects and arrays are ignored for other JSON types, so it holds for scalars trivially.
_NO_BSN_NAME: Final = "NoBsnAnywhere"
_NO_BSN: Final[dict[str, Any]] = {
    "description": "No key named bsn (in any letter case) at any depth: events never carry a BSN.",
    "propertyNames": {"not": {"pattern": "^[Bb][Ss][Nn]$"}},
    "additionalProperties": {"$ref": f"#/$defs/{_NO_BSN_NAME}"},
    "items": {"$ref": f"#/$defs/{_NO_BSN_NAME}"},
}


def _decorate(schema: dict[str, Any], title: str, description: str) -> dict[str, Any]:
    """Add what pydantic does not generate: the draft, the contract version and the bsn rule."""
    body = {
        key: value for key, value in schema.items() if key not in ("title", "description", "$defs", "allOf")
    }
    defs = dict(schema.get("$defs", {}))
    defs[_NO_BSN_NAME] = _NO_BSN
    return {
        "$schema": _DRAFT,
        "title": title,
        "description": description,
        "x-contract-version": CONTRACT_VERSION,
        **body,
        "allOf": [*schema.get("allOf", []), {"$ref": f"#/$defs/{_NO_BSN_NAME}"}],
        "$defs": defs,
    }


def schema_for(event_type: str | None = None) -> dict[str, Any]:
    """The JSON Schema of one event type, or of the whole union when `event_type` is None.

    Raises KeyError for an unknown type.
    """
    if event_type is None:
        schema = TypeAdapter(Event).json_schema()
        return _decorate(
            schema,
            "SNO event",
            "Any event of the SNO event contract (docs/events.md, version "
            f"{CONTRACT_VERSION}); `type` selects the schema and the topic. Instants are RFC 3339 with a "
            "UTC offset; unknown fields are ignored.",
        )
    model = EVENT_MODELS[event_type]
    schema = model.model_json_schema()
    return _decorate(schema, event_type, schema.get("description", ""))


def render(schema: dict[str, Any]) -> str:
    """Stable text for a schema, so that regenerating an unchanged contract changes no byte."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def generated_files() -> dict[str, str]:
    """File name -> text of every published schema file."""
    files = {f"{UNION_NAME}.json": render(schema_for(None))}
    for event_type in EVENT_MODELS:
        files[f"{event_type}.json"] = render(schema_for(event_type))
    return files


def write(directory: Path = JSON_DIR) -> list[Path]:
    """Write every schema file, removing stale ones, and return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    files = generated_files()
    for stale in directory.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, text in files.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def check(directory: Path = JSON_DIR) -> list[str]:
    """Names of the files that are missing, stale or different from what the models generate."""
    files = generated_files()
    problems = [
        name
        for name, text in files.items()
        if not (directory / name).is_file() or (directory / name).read_text(encoding="utf-8") != text
    ]
    problems += sorted(p.name for p in directory.glob("*.json") if p.name not in files)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.generate", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report files that differ; exit 1 if any")
    parser.add_argument("--out", type=Path, default=JSON_DIR, help="directory of the schema files")
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.out)
        for name in problems:
            print(f"out of date: {args.out / name}", file=sys.stderr)
        return 1 if problems else 0
    for path in write(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
