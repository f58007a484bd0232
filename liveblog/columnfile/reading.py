"""Reading a column file: the whole file is parsed and checked, images included, before anything is written.

A file that does not fit is refused with the line of the offending value and the reason (ColumnFileError).
"""

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from liveblog.columnfile import imagefiles
from liveblog.columnfile.fields import COLUMN, POST, SERIES, TOP
from liveblog.columnfile.lines import ColumnFileError, readable, value_lines


@dataclass
class Plan:
    """What the file asks for, checked: {file field: value} per object, and the body images' placeholder."""

    series: dict | None
    column: dict
    posts: list
    token: str


class Reader:
    def __init__(self, text, base_dir):
        self.base_dir = Path(base_dir).resolve()
        try:
            self.data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ColumnFileError(f"this is not valid JSON: {error.msg} (column {error.colno})", error.lineno) from None
        try:
            self.lines = value_lines(text)
        except RecursionError:
            raise ColumnFileError("the file is nested too deeply to be a column file", 1) from None
        # Stands in for a body image's URL until the import knows which stored file it is.
        self.token = f"import-image-{uuid.uuid4().hex}-"

    def fail(self, path, reason):
        line = None
        for end in range(len(path), -1, -1):  # a missing value: point at its object
            line = self.lines.get(tuple(path[:end]))
            if line:
                break
        where = readable(path)
        raise ColumnFileError(f"{where}: {reason}" if path else reason, line)

    def check_keys(self, value, path, required, known):
        if not isinstance(value, dict):
            self.fail(path, "expected an object {...}" if path else "the file must hold one JSON object {...}")
        for key in value:
            if key not in known:
                self.fail((*path, key), f"unknown field {key!r} (known fields: {', '.join(sorted(known))})")
        for key in sorted(required):
            if key not in value:
                self.fail(path, f"{key!r} is missing")
        return value

    def object(self, value, path, shape, context=None):
        """One object of the file read by its shape: {file field: value}. `context`: the enclosing object's."""
        obj = self.check_keys(value, path, shape.required, shape.known)
        values = {}
        for field in shape.fields:
            values[field.name] = field.read(self, obj, path, {**(context or {}), **values})
        return values

    def listing(self, obj, path, key):
        value = obj.get(key, [])
        if not isinstance(value, list):
            self.fail((*path, key), "expected a list [...]")
        return value

    def image(self, ref, path, directory):
        try:
            return imagefiles.load(ref, self.base_dir, directory)
        except imagefiles.RefusedImage as refused:
            self.fail(path, str(refused))

    def read(self):
        top = self.check_keys(self.data, (), TOP["required"], TOP["known"])
        series = self.object(top["series"], ("series",), SERIES) if top.get("series") is not None else None
        column = self.object(top["column"], ("column",), COLUMN)
        posts, seen = [], {}
        for i, raw in enumerate(self.listing(top, (), "posts")):
            post = self.object(raw, ("posts", i), POST)
            self.check_unique(post, i, seen)
            posts.append(post)
        return Plan(series, column, posts, self.token)

    def check_unique(self, post, i, seen):
        """Posts are matched by key, else by headline and publish time: two alike would be one post."""
        identity = ("key", post["key"]) if post["key"] else ("headline", post["headline"], post["published_at"])
        if identity in seen:
            field, what = ("key", "key") if post["key"] else ("headline", "headline and publish time")
            self.fail(("posts", i, field), f"posts[{seen[identity]}] has the same {what}")
        seen[identity] = i


def read_file(path):
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ColumnFileError(f"the file is not UTF-8 text ({error.reason} at byte {error.start})") from None
    return Reader(text, path.parent).read()
