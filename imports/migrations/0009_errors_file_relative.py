"""ImportJob.errors_file is stored relative to MEDIA_ROOT: existing absolute paths under MEDIA_ROOT are cut to
their relative part (a path elsewhere is left as it is; the app still reads absolute paths)."""

from pathlib import Path

from django.conf import settings
from django.db import migrations, models


def errors_file_relative(apps, schema_editor):
    ImportJob = apps.get_model("imports", "ImportJob")
    media = Path(settings.MEDIA_ROOT).resolve()
    jobs = ImportJob.objects.exclude(errors_file="").filter(errors_file__startswith="/")
    for job in jobs.only("id", "errors_file").iterator():
        path = Path(job.errors_file)
        try:
            relative = path.resolve().relative_to(media)
        except ValueError:
            continue
        ImportJob.objects.filter(pk=job.pk).update(errors_file=relative.as_posix())


def errors_file_absolute(apps, schema_editor):
    ImportJob = apps.get_model("imports", "ImportJob")
    media = Path(settings.MEDIA_ROOT)
    jobs = ImportJob.objects.exclude(errors_file="").exclude(errors_file__startswith="/")
    for job in jobs.only("id", "errors_file").iterator():
        ImportJob.objects.filter(pk=job.pk).update(errors_file=str(media / job.errors_file))


class Migration(migrations.Migration):
    dependencies = [("imports", "0008_workflow_retry_budget")]

    operations = [
        migrations.AlterField(
            model_name="importjob",
            name="errors_file",
            field=models.CharField(
                blank=True, help_text="Every rejected row, as CSV: a path relative to MEDIA_ROOT.", max_length=500
            ),
        ),
        migrations.RunPython(errors_file_relative, errors_file_absolute),
    ]
