"""The static files as served: the site's own scripts and stylesheets minified (esbuild) as they
are collected, then hashed and compressed (WhiteNoise), so that every name served is a
content hash a browser may keep for good.

Minifying at collectstatic, not in a build step of its own, keeps one source of truth: the
files under static/ are what a developer edits and what DEBUG serves; a collected copy cannot
be older than its source. Only files from the project's own static folders are minified (the
admin's, DRF's and the vendored maps stay as shipped)."""

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import Storage
from whitenoise.storage import CompressedManifestStaticFilesStorage

MINIFIED = (".js", ".css")


def own_assets(paths: dict[str, tuple[Storage, str]]) -> list[str]:
    """The collected scripts and stylesheets that come from STATICFILES_DIRS."""
    own = {str(Path(d).resolve()) for d in settings.STATICFILES_DIRS}
    return sorted(
        path
        for path, (storage, _source) in paths.items()
        if path.endswith(MINIFIED)
        and not path.startswith("vendor/")
        and str(Path(getattr(storage, "location", "")).resolve()) in own
    )


def minify(root: Path, names: list[str]) -> None:
    """Minifies root/<name> in place, all in one esbuild run (a few milliseconds a file)."""
    if not names:
        return
    esbuild = Path(settings.ESBUILD)
    if not esbuild.exists():
        raise ImproperlyConfigured(
            f"no esbuild at {esbuild}: `make node_modules/.installed` installs it (or set "
            "ESBUILD to its path, or STATIC_MINIFY=false to collect the sources as they are)"
        )
    subprocess.run(
        [
            str(esbuild),
            *names,
            "--minify",
            # The scripts are written for every browser the site serves: no newer syntax.
            "--target=es2017",
            "--log-level=warning",
            "--allow-overwrite",
            f"--outdir={root}",
            f"--outbase={root}",
        ],
        cwd=root,
        check=True,
        timeout=120,
    )


class MinifiedManifestStaticFilesStorage(CompressedManifestStaticFilesStorage):
    def post_process(
        self, paths: dict[str, tuple[Storage, str]], dry_run: bool = False, **options: Any
    ) -> Iterator[tuple[str, str, bool]]:
        # Before hashing: the name then says what is served, and a change to a source is a new
        # name. Minifying a collected copy again (collectstatic skips unchanged sources) gives
        # the same bytes.
        if not dry_run and settings.STATIC_MINIFY:
            names = own_assets(paths)
            minify(Path(self.location), names)
            # Hashing reads each file from where it was found: the minified ones from here.
            paths = {**paths, **{name: (self, name) for name in names}}
        yield from super().post_process(paths, dry_run, **options)
