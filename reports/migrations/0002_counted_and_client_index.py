from django.db import migrations, models


class AddIndexWithoutLocking(migrations.AddIndex):
    """CREATE INDEX CONCURRENTLY on PostgreSQL: the report table is large and takes reports
    all the time, and a plain CREATE INDEX would hold its writes for the whole build. Other
    databases (the embedded SQLite) build it the ordinary way."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.add_index(model, self.index, concurrently=True)
        else:
            schema_editor.add_index(model, self.index)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.remove_index(model, self.index, concurrently=True)
        else:
            schema_editor.remove_index(model, self.index)


class Migration(migrations.Migration):
    # CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("reports", "0001_initial")]

    operations = [
        # A column with a constant default: PostgreSQL adds it without rewriting the table.
        migrations.AddField(
            model_name="report",
            name="counted",
            field=models.BooleanField(db_default=True, default=True),
        ),
        AddIndexWithoutLocking(
            model_name="report",
            index=models.Index(
                fields=["client_key", "service", "created_at"], name="report_client_service_idx"
            ),
        ),
    ]
