import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveblog.settings")
# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from liveblog import runtime  # noqa: E402
from liveblog.bodylimit import RequestBodyLimit  # noqa: E402
from liveblog.consumers import LiveConsumer  # noqa: E402
from liveblog.deskconsumer import DeskConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Bodies above MAX_REQUEST_BYTES are refused before Django reads them.
        "http": RequestBodyLimit(django_asgi_app),
        # Origins outside ALLOWED_HOSTS are refused before the consumer runs.
        "websocket": AllowedHostsOriginValidator(
            URLRouter(
                [
                    path("ws/live/<slug:slug>/", LiveConsumer.as_asgi(), name="live"),
                    # Editors only: the session says who it is (liveblog.deskconsumer).
                    path("ws/desk/<int:column_id>/", AuthMiddlewareStack(DeskConsumer.as_asgi()), name="desk"),
                ]
            )
        ),
    }
)

# The process's background machinery (fan-out hub, publisher, link-card pool) starts and stops with the server.
application = runtime.Lifespan(application)
