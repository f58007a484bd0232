"""Exporting a column in the shape import_column reads: the field table, walked the other way."""

from pathlib import Path

from liveblog.columnfile import imagefiles
from liveblog.columnfile.fields import COLUMN, POST, SERIES


class Exporter:
    """Writes stored images next to the export file (media/<name>), or inline as data URLs without a folder."""

    def __init__(self, base_dir=None):
        self.base_dir = Path(base_dir) if base_dir else None

    def image(self, name):
        return imagefiles.export(name, self.base_dir)


def export_column(column, base_dir=None):
    """The column as a dict in the import shape; images go to base_dir/media/, or inline without one."""
    out = Exporter(base_dir)
    data = {}
    if column.series:
        data["series"] = SERIES.export(column.series, out)
    data["column"] = COLUMN.export(column, out)
    posts = column.posts.order_by("published_at", "id").prefetch_related("bylines__author", "link_cards")
    data["posts"] = [POST.export(post, out) for post in posts]
    return data
