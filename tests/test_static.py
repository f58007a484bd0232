"""CKEditor's bundled demo pages are never served, in the demo (DEBUG) or in production."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command
from django.test import Client

SAMPLE = "/static/ckeditor/ckeditor/samples/index.html"
PLUGIN_TEST_PAGE = "/static/ckeditor/ckeditor/plugins/exportpdf/tests/manual/integration.html"


def status(client, url):
    """GET from a thread of its own: the static server is async, and a browser test earlier in the
    session may have left Playwright's event loop in this thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(client.get, url).result().status_code


@pytest.fixture
def vendor_files(tmp_path, settings):
    """A static folder that holds a CKEditor samples page next to an ordinary file."""
    root = tmp_path / "static"
    (root / "ckeditor/ckeditor/samples").mkdir(parents=True)
    (root / "ckeditor/ckeditor/samples/index.html").write_text("<h1>CKEditor samples</h1>")
    (root / "ckeditor/ckeditor/visible.txt").write_text("served")
    settings.STATICFILES_DIRS = [*settings.STATICFILES_DIRS, root]
    return root


def test_demo_mode_serves_static_files_but_not_the_samples(settings, vendor_files):
    settings.DEBUG = True
    client = Client()  # a fresh client builds the middleware under these settings
    assert status(client, "/static/ckeditor/ckeditor/visible.txt") == 200
    assert status(client, "/static/ckeditor/ckeditor/ckeditor.js") == 200
    assert status(client, SAMPLE) == 404
    assert status(client, PLUGIN_TEST_PAGE) == 404


def test_production_never_collects_or_serves_the_samples(settings, vendor_files, tmp_path):
    settings.DEBUG = False
    settings.SERVESTATIC_USE_FINDERS = settings.SERVESTATIC_AUTOREFRESH = False  # as in production
    settings.STATIC_ROOT = tmp_path / "collected"
    call_command("collectstatic", interactive=False, verbosity=0)
    assert (settings.STATIC_ROOT / "ckeditor/ckeditor/visible.txt").exists()
    assert not (settings.STATIC_ROOT / "ckeditor/ckeditor/samples").exists()
    assert not (settings.STATIC_ROOT / "ckeditor/ckeditor/plugins/exportpdf/tests").exists()

    client = Client()
    assert status(client, "/static/ckeditor/ckeditor/visible.txt") == 200
    assert status(client, SAMPLE) == 404
    assert status(client, PLUGIN_TEST_PAGE) == 404
