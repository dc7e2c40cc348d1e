"""The incident model took its name in the code (Incident) without touching the database: a
site upgrading keeps its table, column, rows and content type, and can go back."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("outages", "0003_webhooks")]
LATEST = [("outages", "0004_incident")]
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    plan = executor.migration_plan(targets)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps, plan


def migrate_to_the_newest() -> None:
    # The migrations after the rename (the outbox) go back with it; later tests need them.
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def columns(table: str) -> list[str]:
    with connection.cursor() as cursor:
        return [c.name for c in connection.introspection.get_table_description(cursor, table)]


@pytest.mark.django_db(transaction=True)
def test_the_rename_keeps_table_rows_and_content_type(tiktok):
    try:
        migrate(LATEST)  # the rename is the newest step of this test
        tables_before = set(connection.introspection.table_names())
        old, _ = migrate(BEFORE)
        assert set(connection.introspection.table_names()) == tables_before
        outage = old.get_model("outages", "Outage").objects.create(
            service_id=tiktok.id,
            country="BR",
            level="outage",
            max_level="outage",
            started_at=T0,
            peak_at=T0,
            peak_reports=40.0,
            peak_expected=2.0,
        )
        owner = old.get_model("auth", "User").objects.create(username="partner")
        subscription = old.get_model("outages", "Subscription").objects.create(
            owner_id=owner.id, url="https://example.org/hook", secret="s", min_level="outage"
        )
        old.get_model("outages", "WebhookDelivery").objects.create(
            subscription_id=subscription.id,
            outage_id=outage.id,
            event="opened",
            body="{}",
            created_at=T0,
        )
        delivery_columns = columns("outages_webhookdelivery")
        new, plan = migrate(LATEST)
        assert [m.name for m, _ in plan] == ["0004_incident"]
        assert set(connection.introspection.table_names()) == tables_before
        assert columns("outages_webhookdelivery") == delivery_columns
        incident = new.get_model("outages", "Incident").objects.get()
        assert (incident.id, incident.country, incident.peak_reports) == (outage.id, "BR", 40.0)
        delivery = new.get_model("outages", "WebhookDelivery").objects.get()
        assert delivery.incident_id == outage.id
        types = new.get_model("contenttypes", "ContentType").objects.filter(app_label="outages")
        assert "incident" in set(types.values_list("model", flat=True))
        assert "outage" not in set(types.values_list("model", flat=True))
        # And back.
        old, _ = migrate(BEFORE)
        assert old.get_model("outages", "Outage").objects.get().id == outage.id
        types = ContentType.objects.filter(app_label="outages")
        assert "outage" in set(types.values_list("model", flat=True))
    finally:
        migrate_to_the_newest()
        User.objects.filter(username="partner").delete()
