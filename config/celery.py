import gc
import os
from typing import Any

from celery import Celery
from celery.signals import worker_before_create_process

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Celery's Django fixup runs Django's system checks in every worker and beat it starts, which
# imports the whole URLconf (every view, the schema generator) that a worker never uses: 0.2 s
# of CPU, more on a busy host, before a restarted worker's first detection pass. The checks
# run where a release starts anyway (`manage.py migrate` in docker/start-web.sh and
# scripts/run.sh, `manage.py check --deploy`); CELERY_SKIP_CHECKS= (empty) runs them here too.
os.environ.setdefault("CELERY_SKIP_CHECKS", "true")

app = Celery("outage_radar")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_before_create_process.connect
def freeze_before_fork(**kwargs: Any) -> None:
    """The prefork pool runs a full gc.collect() before forking each child (celery#2927):
    50-70 ms each over the ~150,000 objects Django, pandas and scipy leave at import, on the
    way to a restarted worker's first pass. Frozen (the fork-server recipe of Python's gc
    docs), they are skipped by that collection and by the children's own, which also leaves
    their memory pages shared with the parent instead of copied on write. Once: what the
    parent allocates later stays collectable."""
    if gc.get_freeze_count() == 0:
        gc.freeze()
