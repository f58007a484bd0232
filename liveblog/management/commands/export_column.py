import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from liveblog.columnfile import export_column
from liveblog.models import Column


class Command(BaseCommand):
    help = (
        "Write one column in the import_column shape (docs/column-file.md). With --output, images go next to the file "
        "under media/; without it the JSON goes to standard output with images as data URLs."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--output", "-o", help="the JSON file to write; its images are written beside it")
        parser.add_argument("--data-urls", action="store_true", help="inline images as data URLs even with --output")

    def handle(self, *args, slug, output=None, data_urls=False, **options):
        column = Column.objects.select_related("series").filter(slug=slug).first()
        if column is None:
            raise CommandError(f"No column with the slug {slug!r}.")
        if output is None:
            self.stdout.write(json.dumps(export_column(column), indent=2, ensure_ascii=False))
            return
        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = export_column(column, None if data_urls else path.parent)
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        self.stdout.write(self.style.SUCCESS(f"Wrote {len(data['posts'])} posts of “{column.title}” to {path}."))
