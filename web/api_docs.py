"""The API's reference as server-rendered pages, read from the same OpenAPI schema that
/api/v1/schema serves: plain HTML and the site's stylesheet, so they load fast on a phone and
read well with a screen reader, which the script-drawn viewers (Swagger UI, Redoc, still at
their own addresses) do not.

An index (every operation in a line, by tag) and a page per tag with its operations and every
schema they use, directly or through another schema: the whole reference on one page was
168 kB of HTML and 4,200 elements, more than a phone lays out quickly (Lighthouse's DOM size
audit failed); the largest tag page is a third of that."""

import functools
from collections.abc import Iterator
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
    body: tuple[str, str | None] | None  # the schema in words, the component it names
    # status, description, the schema in words and the component it names (a CSV or an
    # Atom document names none)
    responses: list[tuple[str, str, str | None, str | None]]


@dataclass
class Schema:
    name: str
    description: str
    properties: list[Field]


@dataclass
class Section:
    tag: str
    operations: list[Operation] = field(default_factory=list)
    # Every component its operations use, directly or through another, in the schema's order.
    schemas: list[Schema] = field(default_factory=list)


@dataclass
class Reference:
    title: str
    version: str
    description: str
    sections: list[Section]
    schemas: list[Schema]

    def section(self, tag: str) -> Section | None:
        return next((s for s in self.sections if s.tag == tag), None)

    def home_of(self) -> dict[str, str]:
        """Each schema's tag page: the first tag, in the index's order, whose page has it."""
        homes: dict[str, str] = {}
        for section in self.sections:
            for schema in section.schemas:
                homes.setdefault(schema.name, section.tag)
        return homes


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


def _refs(node: Any) -> Iterator[str]:
    """The component names a piece of the schema refers to, anywhere inside it."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(REF):
                yield value.removeprefix(REF)
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _closure(roots: list[str], components: dict[str, Any]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name not in components:
            continue
        seen.add(name)
        todo.extend(_refs(components[name]))
    return seen


def _content_schema(content: dict[str, Any]) -> tuple[str, str | None] | None:
    for media in content.values():
        if "schema" in media:
            return type_of(media["schema"])
    return None


def reference_from(schema: dict[str, Any]) -> Reference:
    sections: dict[str, Section] = {}
    used: dict[str, list[str]] = {}  # tag -> the components its operations name
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
            used.setdefault(tag, []).extend(_refs(op))
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
                        (
                            code,
                            r.get("description", ""),
                            *(_content_schema(r.get("content", {})) or (None, None)),
                        )
                        for code, r in op.get("responses", {}).items()
                    ],
                )
            )
    components = schema.get("components", {}).get("schemas", {})
    schemas = []
    for name, s in components.items():
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
        schemas.append(
            Schema(
                name=name, description=s.get("description", "") or type_of(s)[0], properties=props
            )
        )
    for tag, section in sections.items():
        names = _closure(used.get(tag, []), components)
        section.schemas = [s for s in schemas if s.name in names]
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
