import tempfile

from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from liveblog import demo, images, runtime
from liveblog.columnfile import import_file
from liveblog.models import Author, Column

EDITOR_USERNAME = "editor"
EDITOR_PASSWORD = "liveblog-demo"  # noqa: S105  the demo's published login, refused outside DEBUG


class Command(BaseCommand):
    help = "Load the demo series (two columns of an invented storm) and an editor login. Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--site", default="http://127.0.0.1:8000", help="where the demo is served, for the output")

    def handle(self, *args, site, **options):
        if not settings.DEBUG:
            raise CommandError("load_demo creates an editor with a published password: it runs only with DEBUG=1.")
        if Column.objects.filter(slug=demo.LIVE_SLUG).exists():
            self.stdout.write("The demo columns are already loaded.")
        else:
            with runtime.running():
                self.load()
        self.ensure_editor()
        site = site.rstrip("/")
        self.stdout.write(
            self.style.SUCCESS(
                f"\nDemo column:  {site}/live/{demo.LIVE_SLUG}/\n"
                f"Editor login: {site}/admin/  user “{EDITOR_USERNAME}”, password “{EDITOR_PASSWORD}”\n"
            )
        )

    @transaction.atomic
    def load(self):
        with tempfile.TemporaryDirectory() as folder:
            for path in demo.write_demo_files(folder, timezone.now()):
                summary = import_file(path)
                self.stdout.write(f"Loaded “{summary.column.title}”: {summary.added} posts.")
        for name, picture in demo.author_portraits().items():
            author = Author.objects.get(name=name)
            author.bio = demo.AUTHORS[name]
            clean = images.clean_upload(demo.as_upload(picture, f"{author.slug}.jpg"))
            author.photo.save(clean.name, clean, save=False)
            author.photo_alt = f"Portrait of {name}"
            author.save()

    def ensure_editor(self):
        editor, _ = User.objects.get_or_create(username=EDITOR_USERNAME)
        editor.is_staff = True
        editor.set_password(EDITOR_PASSWORD)
        editor.save()
        editor.user_permissions.set(Permission.objects.filter(content_type__app_label="liveblog"))
        Author.objects.filter(name="Maya Okafor", user=None).update(user=editor)
