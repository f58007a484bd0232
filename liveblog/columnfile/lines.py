"""Where each value of a column file starts, so that a refusal can name its line."""

import bisect
import json
import re


class ColumnFileError(Exception):
    def __init__(self, reason, line=None):
        super().__init__(reason)
        self.reason = reason
        self.line = line

    def __str__(self):
        return f"line {self.line}: {self.reason}" if self.line else self.reason


_SPACE = re.compile(r"[ \t\n\r]*")


def value_lines(text):
    """Map the path of every value in a valid JSON text (("posts", 2, "headline")) to its line."""
    decoder = json.JSONDecoder()
    offsets = {}

    def skip(i):
        return _SPACE.match(text, i).end()

    def walk(i, path):
        i = skip(i)
        offsets[path] = i
        opener = text[i]
        if opener not in "{[":
            return decoder.raw_decode(text, i)[1]
        closer = "}" if opener == "{" else "]"
        i = skip(i + 1)
        index = 0
        while text[i] != closer:
            if opener == "{":
                key, i = decoder.raw_decode(text, i)
                i = walk(skip(i) + 1, (*path, key))  # + 1 steps over the colon
            else:
                i = walk(i, (*path, index))
                index += 1
            i = skip(i)
            if text[i] == ",":
                i = skip(i + 1)
        return i + 1

    walk(0, ())
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    return {path: bisect.bisect_right(line_starts, offset) for path, offset in offsets.items()}


def readable(path):
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else part
    return out or "the file"
