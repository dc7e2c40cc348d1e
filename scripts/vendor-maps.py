#!/usr/bin/env python3
"""Regenerate the map geometry in static/vendor/maps/ from pinned npm packages.

    .venv/bin/python scripts/vendor-maps.py

Downloads world-atlas and us-atlas with `npm pack` (npm checks the registry's integrity hash),
decodes their TopoJSON, projects it and writes SVG path data keyed by ISO code:

* world.json: Natural Earth 1:110m countries (world-atlas countries-110m), Equal Earth
  projection, keyed by ISO 3166-1 alpha-2 (from the numeric ids, through pycountry).
* us-states.json: US states (us-atlas states-albers-10m, already in Albers USA), keyed by
  ISO 3166-2 ("US-CA", from the state names, through pycountry).

The output is committed, so the site needs neither npm nor the network at run time, and the
browser needs no TopoJSON decoder or projection code: it only sets fill colours on paths.
"""

import json
import math
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pycountry

WORLD_ATLAS = "world-atlas@2.0.2"
US_ATLAS = "us-atlas@3.0.1"
OUT = Path(__file__).resolve().parent.parent / "static" / "vendor" / "maps"
WORLD_WIDTH = 960.0
# Points closer than this (in output pixels) to the last kept point are dropped: invisible at
# any size the page draws, and they halve the file.
MIN_STEP = 0.35
# Antarctica gets no reports worth a map row and would take a sixth of the height.
SKIP_NUMERIC = {"010"}
# Natural Earth shapes without an ISO 3166-1 code, folded into the country that ISO assigns
# them to for reporting purposes.
EXTRA_NAMES = {"N. Cyprus": "CY", "Somaliland": "SO", "Kosovo": "RS"}


def npm_pack(spec: str, into: Path) -> Path:
    subprocess.run(["npm", "pack", spec, "--silent"], cwd=into, check=True, capture_output=True)
    (tgz,) = into.glob(spec.split("@")[0] + "-*.tgz")
    target = into / spec.replace("@", "-")
    with tarfile.open(tgz) as tar:
        tar.extractall(target, filter="data")
    return target / "package"


def decode_arcs(topo: dict) -> list[list[tuple[float, float]]]:
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x += dx
            y += dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring(arcs: list[list[tuple[float, float]]], indexes: list[int]) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for i in indexes:
        arc = arcs[i] if i >= 0 else list(reversed(arcs[~i]))
        points.extend(arc if not points else arc[1:])
    return points


def polygons(geometry: dict) -> list[list[list[int]]]:
    if geometry["type"] == "Polygon":
        return [geometry["arcs"]]
    if geometry["type"] == "MultiPolygon":
        return geometry["arcs"]
    return []


def clip(points: list[tuple[float, float]], keep_west: bool) -> list[tuple[float, float]]:
    """Sutherland–Hodgman against the meridian lon = 180: the half west (lon <= 180) or east."""

    def inside(p: tuple[float, float]) -> bool:
        return p[0] <= 180 if keep_west else p[0] >= 180

    def cross(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
        t = (180 - a[0]) / (b[0] - a[0])
        return (180.0, a[1] + t * (b[1] - a[1]))

    out: list[tuple[float, float]] = []
    for i, current in enumerate(points):
        previous = points[i - 1]
        if inside(current):
            if not inside(previous):
                out.append(cross(previous, current))
            out.append(current)
        elif inside(previous):
            out.append(cross(previous, current))
    return out


def split_antimeridian(points: list[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    """Rings that cross ±180° (Russia, Fiji) would draw a line across the whole map: unwrap
    their longitudes and cut them at the antimeridian into a west and an east part."""
    if all(abs(b[0] - a[0]) <= 180 for a, b in zip(points, points[1:], strict=False)):
        return [points]
    unwrapped = [points[0]]
    for lon, lat in points[1:]:
        previous = unwrapped[-1][0]
        while lon - previous > 180:
            lon -= 360
        while lon - previous < -180:
            lon += 360
        unwrapped.append((lon, lat))
    if min(lon for lon, _ in unwrapped) < -180:
        unwrapped = [(lon + 360, lat) for lon, lat in unwrapped]
    west = clip(unwrapped, keep_west=True)
    east = [(lon - 360, lat) for lon, lat in clip(unwrapped, keep_west=False)]
    return [part for part in (west, east) if len(part) >= 3]


def equal_earth(lon: float, lat: float) -> tuple[float, float]:
    a1, a2, a3, a4 = 1.340264, -0.081106, 0.000893, 0.003796
    m = math.sqrt(3) / 2
    lam, phi = math.radians(lon), math.radians(lat)
    theta = math.asin(m * math.sin(phi))
    t2 = theta * theta
    t6 = t2 * t2 * t2
    x = lam * math.cos(theta) / (m * (a1 + 3 * a2 * t2 + t6 * (7 * a3 + 9 * a4 * t2)))
    y = theta * (a1 + a2 * t2 + t6 * (a3 + a4 * t2))
    return x, -y


def path_d(rings: list[list[tuple[float, float]]]) -> str:
    parts = []
    for points in rings:
        kept: list[tuple[float, float]] = []
        for x, y in points:
            if kept and math.hypot(x - kept[-1][0], y - kept[-1][1]) < MIN_STEP:
                continue
            kept.append((x, y))
        if len(kept) < 3:
            continue
        coords = "L".join(f"{x:.1f},{y:.1f}" for x, y in kept)
        parts.append(f"M{coords}Z")
    return "".join(parts)


def world(package: Path) -> dict:
    topo = json.loads((package / "countries-110m.json").read_text())
    arcs = decode_arcs(topo)
    raw = []
    for geometry in topo["objects"]["countries"]["geometries"]:
        numeric = geometry.get("id")
        name = geometry["properties"]["name"]
        if numeric in SKIP_NUMERIC:
            continue
        country = pycountry.countries.get(numeric=numeric) if numeric else None
        code = country.alpha_2 if country else EXTRA_NAMES.get(name, "")
        if not code:
            sys.stderr.write(f"skipped {name!r}: no ISO code\n")
            continue
        rings = [
            [equal_earth(lon, lat) for lon, lat in part]
            for polygon in polygons(geometry)
            for r in polygon
            for part in split_antimeridian(ring(arcs, r))
        ]
        raw.append((code, rings))
    xs = [x for _, rings in raw for r in rings for x, _ in r]
    ys = [y for _, rings in raw for r in rings for _, y in r]
    scale = WORLD_WIDTH / (max(xs) - min(xs))
    x0, y0 = min(xs), min(ys)
    merged: dict[str, list[list[tuple[float, float]]]] = {}
    for code, rings in raw:
        merged.setdefault(code, []).extend(
            [[((x - x0) * scale, (y - y0) * scale) for x, y in r] for r in rings]
        )
    features = [{"code": code, "d": path_d(rings)} for code, rings in sorted(merged.items())]
    height = (max(ys) - min(ys)) * scale
    return {"width": WORLD_WIDTH, "height": round(height, 1), "features": features}


def us_states(package: Path) -> dict:
    topo = json.loads((package / "states-albers-10m.json").read_text())
    arcs = decode_arcs(topo)
    by_name = {s.name: s.code for s in pycountry.subdivisions.get(country_code="US")}
    features = []
    for geometry in topo["objects"]["states"]["geometries"]:
        name = geometry["properties"]["name"]
        code = by_name.get(name)
        if code is None:
            sys.stderr.write(f"skipped {name!r}: no ISO 3166-2 code\n")
            continue
        rings = [ring(arcs, r) for polygon in polygons(geometry) for r in polygon]
        features.append({"code": code, "d": path_d(rings)})
    features.sort(key=lambda f: f["code"])
    # us-atlas's Albers USA frame is 975 x 610.
    return {"width": 975, "height": 610, "features": features}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        world_pkg = npm_pack(WORLD_ATLAS, Path(tmp))
        us_pkg = npm_pack(US_ATLAS, Path(tmp))
        for name, data in (("world.json", world(world_pkg)), ("us-states.json", us_states(us_pkg))):
            (OUT / name).write_text(json.dumps(data, separators=(",", ":")) + "\n")
        shutil.copy(world_pkg / "LICENSE", OUT / "LICENSE.world-atlas")
        shutil.copy(us_pkg / "LICENSE", OUT / "LICENSE.us-atlas")
    for path in sorted(OUT.iterdir()):
        sys.stdout.write(f"{path.relative_to(OUT.parents[2])}  {path.stat().st_size} bytes\n")


if __name__ == "__main__":
    main()
