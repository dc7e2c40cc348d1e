"""Mutation testing of the core modules (`make mutation`): mutmut 3 per module, in parallel.

Each module runs in a copy of the tree of its own (var/mutation/<module>/), as one mutmut
process that forks a child per mutant, one child at a time. Parallelism is across modules:
each of the --jobs workers owns a PostgreSQL database (<MUTATION_DATABASE_URL>_<n>, whose test
database pytest-django keeps between runs) and a Redis db (the n-th of MUTATION_REDIS_DBS), so
two mutants' tests never share state. The modules, their tests, their targets, the mutants
known to be equivalent and those no test of the run can reach are in scripts/mutation.toml.

A module may name the functions whose mutants are run (`functions`, globs on mutmut's
function names) and a `sample`: a glob on the last digit of a mutant's number ("[02468]" runs
half of them, "[05]" a fifth, "0" a tenth), which bounds the run on two cores; the others are
not run and not counted. `full` names functions whose every mutant is run whatever the sample
(small functions that decide, where a fifth of their mutants would be one or two).

Prints per module: mutants run, killed, survived (not equivalent), equivalent, unreachable
(code for another database than the run's), score (killed / (run - equivalent - unreachable));
then every survivor with its diff. Exits 1 if a module is
below its target. --modules runs some of them only; --report reprints the last results.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "mutation"
CONFIG = ROOT / "scripts" / "mutation.toml"
SOURCES = ["config", "common", "outages", "reports", "alerts", "analytics", "web", "demo"]
# locale: the compiled catalogues (make messages), which tests in other languages read.
ALSO_COPY = ["bench", "templates", "static", "locale", "manage.py"]
COPY = [*SOURCES, *ALSO_COPY, "tests", "pyproject.toml"]
# mutmut's exit codes per mutant (mutmut/stats.py): caught means a test failed, or timed out,
# or the type checker refused it.
CAUGHT = {1, 3, 36, 37, -24, 24, 152, 255}
SURVIVED = {0, 5, 33, None}


@dataclass
class Result:
    path: str
    target: float
    seconds: float = 0.0
    exit_code: int = 0
    killed: list[str] = field(default_factory=list)
    survived: list[str] = field(default_factory=list)
    equivalent: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)  # suspicious, segfault: counted as survived
    generated: int = 0

    @property
    def total(self) -> int:
        return (
            len(self.killed)
            + len(self.survived)
            + len(self.equivalent)
            + len(self.unreachable)
            + len(self.other)
        )

    @property
    def score(self) -> float:
        judged = self.total - len(self.equivalent) - len(self.unreachable)
        return 100.0 * len(self.killed) / judged if judged else 100.0


def slug(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def patterns(module: dict[str, object]) -> list[str]:
    """mutmut's name globs for the mutants of a module that are run."""
    name = slug(str(module["path"]))
    sample = str(module.get("sample", ""))
    functions = [str(f) for f in module.get("functions", ["*"])]  # type: ignore[attr-defined]
    full = [str(f) for f in module.get("full", [])]  # type: ignore[attr-defined]
    return [f"{name}.{f}__mutmut_*{sample}" for f in functions] + [
        f"{name}.{f}__mutmut_*" for f in full
    ]


def setup_cfg(module: dict[str, object]) -> str:
    def block(name: str, values: list[str]) -> str:
        return f"{name} =\n" + "".join(f"    {v}\n" for v in values)

    # A test file not written yet (a baseline measured before it) is left out.
    tests = [str(t) for t in module["tests"] if (ROOT / str(t)).exists()]  # type: ignore[attr-defined]
    return (
        "[mutmut]\n"
        + block("source_paths", SOURCES)
        + block("also_copy", ALSO_COPY)
        + block("only_mutate", [str(module["path"])])
        + block("pytest_add_cli_args_test_selection", tests)
        # Each child is a new pytest session in the forked process: keep the test database.
        + block("pytest_add_cli_args", ["-p", "no:cacheprovider", "--reuse-db"])
    )


def prepare(module: dict[str, object], without: list[str]) -> Path:
    work = WORK / slug(str(module["path"]))
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules", *without)
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, work / name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, work / name)
    (work / "setup.cfg").write_text(setup_cfg(module))
    return work


def run_module(module: dict[str, object], slot: int, db_url: str, redis: str, log: Path) -> float:
    work = WORK / slug(str(module["path"]))
    env = {
        **os.environ,
        "OUTAGES_MUTATION": "1",
        "DATABASE_URL": f"{db_url}_{slot}",
        "REDIS_URL": redis,
    }
    mutmut = Path(sys.executable).parent / "mutmut"
    started = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.run(
            [str(mutmut), "run", "--max-children", "1", *patterns(module)],
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    seconds = time.monotonic() - started
    (work / "run.json").write_text(json.dumps({"seconds": seconds, "exit_code": proc.returncode}))
    return seconds


def collect(
    module: dict[str, object], equivalent: dict[str, str], unreachable: dict[str, str]
) -> Result:
    path = str(module["path"])
    result = Result(path=path, target=float(module["target"]))  # type: ignore[arg-type]
    work = WORK / slug(path)
    meta = work / "mutants" / f"{path}.meta"
    run = work / "run.json"
    if run.exists():
        info = json.loads(run.read_text())
        result.seconds, result.exit_code = info["seconds"], info["exit_code"]
    if not meta.exists():
        result.exit_code = result.exit_code or -1
        return result
    codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    result.generated = len(codes)
    wanted = patterns(module)
    for name, code in sorted(codes.items(), key=lambda kv: _order(kv[0])):
        if not any(fnmatch.fnmatchcase(name, p) for p in wanted):
            continue
        if name in equivalent:
            result.equivalent.append(name)
        elif name in unreachable:
            result.unreachable.append(name)
        elif code in CAUGHT:
            result.killed.append(name)
        elif code in SURVIVED:
            result.survived.append(name)
        else:
            result.other.append(name)
    return result


def _order(name: str) -> tuple[str, int]:
    head, _, number = name.rpartition("__mutmut_")
    return head, int(number) if number.isdigit() else 0


def diff_of(path: str, name: str) -> str:
    work = WORK / slug(path)
    mutmut = Path(sys.executable).parent / "mutmut"
    shown = subprocess.run(
        [str(mutmut), "show", name], cwd=work, capture_output=True, text=True, check=False
    ).stdout
    lines = [
        line
        for line in shown.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    return "\n".join(f"      {line.strip()[:1]} {line[1:].strip()}" for line in lines)


def report(
    modules: list[dict[str, object]], equivalent: dict[str, str], unreachable: dict[str, str]
) -> int:
    results = [collect(m, equivalent, unreachable) for m in modules]
    known = {n for r in results for n in r.equivalent + r.unreachable}
    print()
    print(
        f"{'module':28} {'made':>5} {'run':>5} {'killed':>6} {'surv.':>5} {'equiv.':>6}"
        f" {'unr.':>4} {'score':>7} {'target':>6} {'time':>6}"
    )
    failed = 0
    for r in results:
        below = r.score < r.target or r.exit_code != 0
        failed += below
        print(
            f"{r.path:28} {r.generated:5} {r.total:5} {len(r.killed):6}"
            f" {len(r.survived) + len(r.other):5}"
            f" {len(r.equivalent):6} {len(r.unreachable):4}"
            f" {r.score:6.1f}% {r.target:5.0f}% {r.seconds:5.0f}s"
            + ("  BELOW TARGET" if r.score < r.target else "")
            + (f"  (mutmut exit {r.exit_code})" if r.exit_code else "")
        )
    for r in results:
        if not (r.survived or r.other):
            continue
        print(f"\nSurvivors in {r.path}:")
        for name in r.survived + r.other:
            print(f"  {name}")
            print(diff_of(r.path, name))
    stale = [
        n
        for n in [*equivalent, *unreachable]
        if n not in known and any(n.startswith(slug(r.path)) for r in results)
    ]
    if stale:
        print(
            "\nListed as equivalent or unreachable in scripts/mutation.toml but not generated"
            " (renumbered?):"
        )
        for n in stale:
            print(f"  {n}")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", help="comma-separated paths (default: all in the config)")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("MUTATION_JOBS", "4")))
    parser.add_argument("--report", action="store_true", help="only reprint the last results")
    parser.add_argument(
        "--without",
        action="append",
        default=[],
        metavar="GLOB",
        help="leave files matching GLOB out of the copies (a score before some tests existed)",
    )
    args = parser.parse_args()
    config = tomllib.loads(CONFIG.read_text())
    modules: list[dict[str, object]] = config["module"]
    equivalent: dict[str, str] = config.get("equivalent", {})
    unreachable: dict[str, str] = config.get("unreachable", {})
    if args.modules:
        wanted = set(args.modules.split(","))
        modules = [m for m in modules if m["path"] in wanted]
        if len(modules) != len(wanted):
            parser.error(f"unknown module in {sorted(wanted)}")
    if not args.report:
        db_url = os.environ.get("MUTATION_DATABASE_URL", "postgres://127.0.0.1:5432/outages_mut")
        redis_base = os.environ.get("MUTATION_REDIS_URL", "redis://127.0.0.1:6379")
        redis_dbs = os.environ.get("MUTATION_REDIS_DBS", "8,9,10,11").split(",")
        jobs = max(1, min(args.jobs, len(redis_dbs), len(modules)))
        slots: queue.Queue[int] = queue.Queue()
        first = int(os.environ.get("MUTATION_FIRST_WORKER", "0"))
        for n in range(first, min(first + jobs, len(redis_dbs))):
            slots.put(n)
        WORK.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        # Every copy is taken before any module runs: all of them test the same tree.
        for module in modules:
            prepare(module, args.without)

        def worker(module: dict[str, object]) -> None:
            slot = slots.get()
            try:
                name = slug(str(module["path"]))
                log = WORK / f"{name}.log"
                print(
                    f"== {module['path']}: worker {slot} (log {log.relative_to(ROOT)})", flush=True
                )
                seconds = run_module(module, slot, db_url, f"{redis_base}/{redis_dbs[slot]}", log)
                print(f"== {module['path']}: done in {seconds:.0f} s", flush=True)
            finally:
                slots.put(slot)

        threads = [threading.Thread(target=worker, args=(m,)) for m in modules]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(f"== all modules in {time.monotonic() - started:.0f} s on {jobs} workers")
    return report(modules, equivalent, unreachable)


if __name__ == "__main__":
    sys.exit(main())
