from django.conf import settings
from django.contrib import admin
from django.contrib.sitemaps.views import sitemap
from django.urls import path

from liveblog import feeds, views
from liveblog.sitemaps import SITEMAPS

urlpatterns = [
    path("", views.home, name="home"),
    path("live/<slug:slug>/", views.column, name="column"),
    path("live/<slug:slug>/posts/<int:post_id>/", views.post, name="post"),
    path("live/<slug:slug>/events", views.column_events, name="column_events"),
    path("series/<slug:slug>/", views.series, name="series"),
    path("authors/<slug:slug>/", views.author, name="author"),
    path("cards/<int:card_id>/press-image", views.set_press_image, name="set_press_image"),
    path("live/<slug:slug>/feed/atom/", feeds.column_atom, name="column_feed_atom"),
    path("live/<slug:slug>/feed/rss/", feeds.column_rss, name="column_feed_rss"),
    path("feed/atom/", feeds.live_atom, name="live_feed_atom"),
    path("feed/rss/", feeds.live_rss, name="live_feed_rss"),
    path("sitemap.xml", sitemap, {"sitemaps": SITEMAPS}, name="sitemap"),
    path("robots.txt", views.robots_txt, name="robots_txt"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    # CKEditor's uploads go through our image guard; its browser is used as it comes.
    path("ckeditor/upload/", views.ckeditor_upload, name="ckeditor_upload"),
    path("ckeditor/browse/", views.ckeditor_browse, name="ckeditor_browse"),
]

if settings.SERVE_MEDIA:
    # Uploaded and fetched images; a CDN or the front web server may take this over.
    from django.views.static import serve

    urlpatterns += [
        path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", serve, {"document_root": settings.MEDIA_ROOT}),
    ]
