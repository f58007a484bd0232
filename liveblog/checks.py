"""System checks that refuse dangerous configuration."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=False)
def check_secret_key(app_configs, **kwargs):
    if not settings.DEBUG and settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY:
        return [
            Error(
                "SECRET_KEY is the development key while DEBUG is off.",
                hint="Set the SECRET_KEY environment variable to a long random value.",
                id="liveblog.E001",
            )
        ]
    return []
