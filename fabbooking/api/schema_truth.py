"""Make /schema/openapi.json say what the API does where Litestar's generator says otherwise.

Litestar documents our msgspec structs without what msgspec enforces on them (unknown fields
refused, a lower bound of 0), a ``time`` as an ISO 8601 *duration*, a 204 with a JSON body,
and knows nothing of a Bearer token that is no longer valid (401 on any API operation, even
a public one). ``tests/test_api_schema_conformance.py`` holds the document to the answers.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar
from litestar.openapi.spec import OpenAPIResponse, Operation, Reference, Schema
from litestar.openapi.spec.media_type import OpenAPIMediaType

# A time of day as msgspec reads and writes it: 09:00:00, 18:30:00.5 (no offset: the site's own time)
TIME_OF_DAY = r"^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?$"
_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
           "minItems", "maxItems")


def tell_the_truth(app: Litestar) -> None:
    schema = app.openapi_schema
    components = (schema.components.schemas if schema.components else None) or {}
    structs = _structs_by_name()
    for name, component in components.items():
        if isinstance(component, Schema) and (struct := structs.get(name)) is not None:
            _as_msgspec_reads(component, struct)
    for component in components.values():
        if isinstance(component, Schema):
            _times_of_day(component)
    error = next((r.content["application/json"].schema for operation in _operations(app)
                  for r in (operation.responses or {}).values()
                  if isinstance(r, OpenAPIResponse) and r.content and "application/json" in r.content
                  and getattr(r.content["application/json"].schema, "ref", "").endswith("/ErrorBody")), None)
    for route, path in (schema.paths or {}).items():
        for operation in _path_operations(path):
            responses = operation.responses or {}
            if "204" in responses and isinstance(responses["204"], OpenAPIResponse):
                responses["204"].content = None  # 204 No Content has no body, nor a content type
            if route.startswith("/api/") and error is not None and "401" not in responses:
                responses["401"] = OpenAPIResponse(
                    description="The Bearer token is not valid (revoked, expired or mistyped) "
                                "(code `not_authenticated`): log in again or leave the header out.",
                    content={"application/json": OpenAPIMediaType(schema=error)})


def _operations(app: Litestar) -> list[Operation]:
    return [op for path in (app.openapi_schema.paths or {}).values() for op in _path_operations(path)]


def _path_operations(path: Any) -> list[Operation]:
    return [op for op in (path.get, path.post, path.put, path.patch, path.delete) if op is not None]


def _structs_by_name() -> dict[str, type[msgspec.Struct]]:
    found: dict[str, type[msgspec.Struct]] = {}
    seen: set[str] = set()
    todo = list(msgspec.Struct.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if not cls.__module__.startswith("fabbooking."):
            continue
        if cls.__name__ in seen:  # two structs of one name: Litestar names their components otherwise
            found.pop(cls.__name__, None)
        else:
            found[cls.__name__] = cls
        seen.add(cls.__name__)
    return found


def _as_msgspec_reads(component: Schema, struct: type[msgspec.Struct]) -> None:
    """Unknown fields are refused (``forbid_unknown_fields``), and every bound msgspec checks
    is written down (Litestar drops a bound of 0 inside a ``oneOf``)."""
    if struct.__struct_config__.forbid_unknown_fields:
        component.additional_properties = False
    try:
        _, definitions = msgspec.json.schema_components([struct], ref_template="{name}")
    except (TypeError, ValueError):  # a field msgspec cannot describe: leave Litestar's words
        return
    ours = definitions.get(struct.__name__, {}).get("properties", {})
    for field, prop in (component.properties or {}).items():
        if not isinstance(prop, Schema) or field not in ours:
            continue
        bounds: dict[str, Any] = {}
        for candidate in [ours[field], *ours[field].get("anyOf", [])]:
            bounds.update({k: v for k, v in candidate.items() if k in _BOUNDS})
        for key, value in bounds.items():
            attribute = {"exclusiveMinimum": "exclusive_minimum", "exclusiveMaximum": "exclusive_maximum",
                         "minLength": "min_length", "maxLength": "max_length",
                         "minItems": "min_items", "maxItems": "max_items"}.get(key, key)
            if getattr(prop, attribute, None) is None:
                setattr(prop, attribute, value)


def _times_of_day(schema: Schema | Reference) -> None:
    """Litestar writes a ``datetime.time`` as ``format: duration`` (it is ``10:00:00``, not
    ``PT10H``); the API has no durations, so every one of them is a time of day."""
    if not isinstance(schema, Schema):
        return
    if schema.format is not None and str(getattr(schema.format, "value", schema.format)) == "duration":
        schema.format = None
        schema.pattern = TIME_OF_DAY
        schema.description = schema.description or "A time of day, HH:MM:SS, in the site's time zone."
    for child in [*(schema.properties or {}).values(), *(schema.one_of or []), *(schema.any_of or []),
                  *(schema.all_of or [])]:
        _times_of_day(child)
    if isinstance(schema.items, Schema):
        _times_of_day(schema.items)
