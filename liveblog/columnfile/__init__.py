"""Columns in and out as JSON files (docs/column-file.md): `import_column` and `export_column`.

One job per module:
- fields: the table of the file's objects and fields, with lengths and choices from the models;
- reading: parse and check the whole file (images included) before anything is written;
- lines: where each value starts, so that a refusal names its line;
- imagefiles: images from paths or data URLs, through the image pipeline, named by content;
- bodies: post bodies' HTML, with their local images, in and out;
- writing: one transaction that creates or updates the column, through the models;
- exporting: the same table, walked the other way.
"""

from liveblog.columnfile.exporting import export_column
from liveblog.columnfile.lines import ColumnFileError
from liveblog.columnfile.reading import read_file
from liveblog.columnfile.writing import import_file

__all__ = ["ColumnFileError", "export_column", "import_file", "read_file"]
