import zlib

from django.db import migrations


def compress_queued_payloads(apps, schema_editor):
    """Payloads of jobs still queued are stored compressed, as new ones are."""
    ImportJob = apps.get_model("imports", "ImportJob")
    for job in ImportJob.objects.exclude(payload=None).only("id", "payload").iterator():
        ImportJob.objects.filter(id=job.id).update(payload=zlib.compress(bytes(job.payload), 1))


def decompress_queued_payloads(apps, schema_editor):
    ImportJob = apps.get_model("imports", "ImportJob")
    for job in ImportJob.objects.exclude(payload=None).only("id", "payload").iterator():
        ImportJob.objects.filter(id=job.id).update(payload=zlib.decompress(job.payload))


class Migration(migrations.Migration):
    dependencies = [
        ("imports", "0001_import_jobs_sources_webhooks"),
    ]

    operations = [
        migrations.RunPython(compress_queued_payloads, decompress_queued_payloads),
        # Already compressed by the app: PostgreSQL's own compression would only add time.
        migrations.RunSQL(
            "ALTER TABLE imports_importjob ALTER COLUMN payload SET STORAGE EXTERNAL",
            "ALTER TABLE imports_importjob ALTER COLUMN payload SET STORAGE EXTENDED",
        ),
    ]
