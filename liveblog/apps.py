from django.apps import AppConfig
from django.contrib.staticfiles.apps import StaticFilesConfig as BaseStaticFilesConfig


class LiveblogConfig(AppConfig):
    # apps.py holds two configs; this one is the app's own.
    default = True
    name = "liveblog"
    verbose_name = "Liveblog"

    def ready(self):
        # checks registers the system checks; changes connects the receivers (what a save sets off).
        from liveblog import changes, checks  # noqa: F401


class StaticFilesConfig(BaseStaticFilesConfig):
    # CKEditor's demo pages are not part of our site: never collect or serve them.
    # collectstatic matches folders by their last name only and files by their whole path.
    ignore_patterns = [
        *BaseStaticFilesConfig.ignore_patterns,
        "ckeditor/ckeditor/samples/*",
        "ckeditor/ckeditor/plugins/*/tests/*",
        "*.md",
    ]
