from dataclasses import dataclass

from outages.models import Service


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    id: int
    slug: str
    name: str
    problems: tuple[str, ...]


def service_infos() -> dict[str, ServiceInfo]:
    """The whole catalogue in one query, keyed by slug: what batch validation needs."""
    rows = Service.objects.values_list("id", "slug", "name", "problems")
    return {slug: ServiceInfo(id, slug, name, tuple(problems)) for id, slug, name, problems in rows}


def service_info(*, slug: str) -> dict[str, ServiceInfo]:
    """The catalogue restricted to one slug (empty if unknown): one indexed lookup."""
    rows = Service.objects.filter(slug=slug.lower()).values_list("id", "slug", "name", "problems")
    return {s: ServiceInfo(id, s, name, tuple(problems)) for id, s, name, problems in rows}


def service_list() -> list[Service]:
    return list(Service.objects.order_by("name"))
