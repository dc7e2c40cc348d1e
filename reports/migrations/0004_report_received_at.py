import importlib

from django.db import migrations, models

# CREATE INDEX CONCURRENTLY on PostgreSQL, as for the client index: the table takes reports
# all the time. The index is partial (no row has received_at yet), but the build still scans.
AddIndexWithoutLocking = importlib.import_module(
    "reports.migrations.0002_counted_and_client_index"
).AddIndexWithoutLocking


class Migration(migrations.Migration):
    # CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("reports", "0003_recovery")]

    operations = [
        # Nullable, no default: PostgreSQL adds it without rewriting the table.
        migrations.AddField(
            model_name="report",
            name="received_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        AddIndexWithoutLocking(
            model_name="report",
            index=models.Index(
                condition=models.Q(("received_at__isnull", False)),
                fields=["received_at", "created_at"],
                name="report_received_idx",
            ),
        ),
    ]
