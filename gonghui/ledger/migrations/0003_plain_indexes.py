"""One plain b-tree on ``Transaction.reference`` instead of ``db_index``'s pair (on PostgreSQL a
second, pattern-ops index that no query uses, written by every posting).

Done in SQL, not by AlterField: on SQLite AlterField rebuilds the table, which would drop the
append-only triggers of 0002. The same statements serve both databases.
"""

from django.db import migrations, models

OLD = "ledger_transaction_reference_30876d8b"

FORWARD = [
    f"DROP INDEX IF EXISTS {OLD}_like;",
    f"DROP INDEX IF EXISTS {OLD};",
    "CREATE INDEX ledger_txn_reference ON ledger_transaction (reference);",
]
BACKWARD = [
    "DROP INDEX IF EXISTS ledger_txn_reference;",
    f"CREATE INDEX {OLD} ON ledger_transaction (reference);",
]
BACKWARD_PG = [f"CREATE INDEX {OLD}_like ON ledger_transaction (reference varchar_pattern_ops);"]


def forward(apps, schema_editor):
    for sql in FORWARD:
        schema_editor.execute(sql)


def backward(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    for sql in BACKWARD + (BACKWARD_PG if postgres else []):
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_append_only_and_balance")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forward, backward)],
            state_operations=[
                migrations.AlterField(
                    model_name="transaction",
                    name="reference",
                    field=models.CharField(max_length=100, verbose_name="reference"),
                ),
                migrations.AddIndex(
                    model_name="transaction",
                    index=models.Index(fields=["reference"], name="ledger_txn_reference"),
                ),
            ],
        )
    ]
