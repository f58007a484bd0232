from django.core.management.base import BaseCommand, CommandError

from liveblog import runtime
from liveblog.columnfile import ColumnFileError, import_file


class Command(BaseCommand):
    help = (
        "Create or update one column from a JSON file (docs/column-file.md). "
        "Importing the same file again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the column file; image paths in it are relative to its folder")

    def handle(self, *args, file, **options):
        try:
            with runtime.running():  # publishes the import's events; fetches its link cards before exiting
                summary = import_file(file)
        except FileNotFoundError:
            raise CommandError(f"{file}: no such file") from None
        except ColumnFileError as error:
            raise CommandError(f"{file}, {str(error).rstrip('.')}. Nothing was imported.") from None
        column = summary.column
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported “{column.title}” ({column.get_absolute_url()}): {summary.added} posts added, "
                f"{summary.updated} updated, {summary.unchanged} unchanged; {summary.images_written} new images."
            )
        )
