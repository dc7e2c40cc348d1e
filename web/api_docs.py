"""The API's reference as one server-rendered page, read from the same OpenAPI schema that
/api/v1/schema serves: plain HTML and the site's stylesheet, so it loads fast on a phone and
reads well with a screen reader, which the script-drawn viewers (Swagger UI, Redoc, still at
their own addresses) do not."""

import functools
from dataclasses import dataclass, field
from typing import Any

from drf_spectacular.generators import SchemaGenerator

METHODS = ("get", "post", "put", "patch", "delete")
REF = "#/components/schemas/"


@dataclass
class Field:
    name: str
    type: str
    ref: str | None
    required: bool
    description: str


@dataclass
class Operation:
    id: str
    method: str
    path: str
    summary: str
    description: str
    parameters: list[Field]
    body: str | None
    responses: list[tuple[str, str, str | None]]  # status, description, schema name


@dataclass
class Section:
    tag: str
    operations: list[Operation] = field(default_factory=list)


@dataclass
class Reference:
    title: str
    version: str
    description: str
    sections: list[Section]
    schemas: list[tuple[str, str, list[Field]]]  # name, description, properties


def type_of(schema: dict[str, Any]) -> tuple[str, str | None]:
    """A schema in a few words, and the component it names (for a link), if any."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(REF)
        return name, name
    for combined in ("allOf", "oneOf", "anyOf"):
        if combined in schema:
            parts = [type_of(s) for s in schema[combined]]
            refs = [r for _, r in parts if r]
            return " or ".join(t for t, _ in parts), refs[0] if refs else None
    kind = schema.get("type", "object")
    if kind == "array":
        item, ref = type_of(schema.get("items", {}))
        return f"array of {item}", ref
    words = str(kind)
    if "format" in schema:
        words += f" ({schema['format']})"
    if "enum" in schema:
        words += ": one of " + ", ".join(str(v) for v in schema["enum"] if v not in ("", None))
    if schema.get("nullable"):
        words += ", or null"
    return words, None


def _content_schema(content: dict[str, Any]) -> str | None:
    for media in content.values():
        if "schema" in media:
            return type_of(media["schema"])[0]
    return None


def reference_from(schema: dict[str, Any]) -> Reference:
    sections: dict[str, Section] = {}
    for path, item in schema.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = []
            for p in op.get("parameters", []):
                words, ref = type_of(p.get("schema", {}))
                params.append(
                    Field(
                        name=f"{p['name']} ({p['in']})",
                        type=words,
                        ref=ref,
                        required=bool(p.get("required")),
                        description=p.get("description", ""),
                    )
                )
            body = op.get("requestBody", {}).get("content")
            tag = (op.get("tags") or ["other"])[0]
            sections.setdefault(tag, Section(tag=tag)).operations.append(
                Operation(
                    id=op.get("operationId", f"{method}-{path}"),
                    method=method.upper(),
                    path=path,
                    summary=op.get("summary", ""),
                    description=op.get("description", ""),
                    parameters=params,
                    body=_content_schema(body) if body else None,
                    responses=[
                        (code, r.get("description", ""), _content_schema(r.get("content", {})))
                        for code, r in op.get("responses", {}).items()
                    ],
                )
            )
    schemas = []
    for name, s in schema.get("components", {}).get("schemas", {}).items():
        required = set(s.get("required", []))
        props = []
        for prop, ps in s.get("properties", {}).items():
            words, ref = type_of(ps)
            props.append(
                Field(
                    name=prop,
                    type=words,
                    ref=ref,
                    required=prop in required,
                    description=ps.get("description", ""),
                )
            )
        schemas.append((name, s.get("description", "") or type_of(s)[0], props))
    info = schema.get("info", {})
    return Reference(
        title=info.get("title", "API"),
        version=info.get("version", ""),
        description=info.get("description", ""),
        sections=sorted(sections.values(), key=lambda s: s.tag),
        schemas=schemas,
    )


@functools.cache
def api_reference() -> Reference:
    # The schema is the code's: it changes with a deploy, not between requests.
    return reference_from(SchemaGenerator().get_schema(request=None, public=True))
