"""What tests share, as plain functions and classes (the fixtures live in the conftest.py files).

- factories: one saved model object per call, with plausible defaults (make_column, make_post, ...).
- admin: the admin as an editor uses it: form data for the test client, and Chromium helpers
  (log in, fill a new post, set CKEditor's body).
- sockets: talking to the stack's WebSockets from a test, beside Playwright's event loop.
- stack: the production stack (`manage.py serve` on a free port) and a private redis-server.
- images: image files made with Pillow on the spot (EXIF, decompression bombs, ...).
- richpages: a column with everything a reader can meet.
- database: content types keep their ids across flushes (connected in tests/settings.py).
- locks: a row held by another connection's open transaction (an import, a shell left open).
"""
