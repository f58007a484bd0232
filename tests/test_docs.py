"""The contract in docs/ says what the code does: fields, limits, close codes, kinds; and everything that cites
it points at a page that exists."""

import re
import subprocess

from liveblog import editing, protocol
from liveblog.columnfile import fields
from tests.support.stack import ROOT

DOCS = ROOT / "docs"


def section(text, heading):
    start = text.index(heading)
    end = text.find("\n#", start + len(heading))
    return text[start : end if end != -1 else None]


def rows(text):
    """{field name: the rest of its table row} for rows that start with a `name`."""
    return dict(re.findall(r"^\| `([a-z_]+)` \|(.*)$", text, flags=re.MULTILINE))


def test_the_column_file_page_lists_every_field_with_the_models_limit():
    text = (DOCS / "column-file.md").read_text()
    for heading, shape in [
        ("### `series`", fields.SERIES),
        ("### `column`", fields.COLUMN),
        ("### `posts[]`", fields.POST),
        ("### `posts[].link_cards[]`", fields.CARD),
    ]:
        documented = rows(section(text, heading))
        assert list(documented) == [field.name for field in shape.fields], heading
        for field in shape.fields:
            row = documented[field.name]
            if isinstance(field, fields.Text | fields.Authors):
                assert f"{field.longest:,} characters" in row, field.name
            if isinstance(field, fields.Choice):
                assert all(f"`{choice}`" in row for choice in field.choices), field.name
            assert ("required" in row) == field.required, field.name


def test_the_live_page_lists_every_close_code_kind_and_frame_field():
    text = (DOCS / "live.md").read_text()
    codes = dict(re.findall(r"^\| (\d{4}) \|(.*)$", section(text, "### Close codes"), flags=re.MULTILINE))
    assert sorted(int(code) for code in codes) == sorted(protocol.Close)
    assert list(rows(section(text, "## Events"))) == list(protocol.Kind.values)
    assert list(rows(section(text, "## Frames"))) == list(protocol.Field)


def test_the_editing_page_quotes_what_an_editor_reads_when_a_save_would_wait():
    text = " ".join((DOCS / "editing.md").read_text().split())
    assert f'"{editing.BUSY}"' in text


def test_code_and_help_texts_cite_pages_that_exist():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    cited = set()
    for name in tracked.split():
        path = ROOT / name
        if path.suffix not in {".py", ".js", ".html", ".md", ""} or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        assert "SPEC" + " §" not in text, f"{name} cites the old SPEC; point it at docs/"
        cited |= set(re.findall(r"docs/([a-z-]+\.md)", text))
    assert cited, "nothing cites docs/"
    missing = {page for page in cited if not (DOCS / page).is_file()}
    assert not missing
