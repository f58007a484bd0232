"""sitemap.xml: the pages search engines should index (post pages point their canonical at their column)."""

from django.contrib.sitemaps import Sitemap

from liveblog.models import Author, Column, Post, Series


class ColumnSitemap(Sitemap):
    priority = 1.0

    def changefreq(self, column):
        return "always" if column.is_live else "monthly"

    def items(self):
        return Column.objects.order_by("-started_at")

    def lastmod(self, column):
        return column.changed_at


class SeriesSitemap(Sitemap):
    changefreq = "daily"
    priority = 0.6

    def items(self):
        return Series.objects.all()


class AuthorSitemap(Sitemap):
    changefreq = "daily"
    priority = 0.4

    def items(self):
        # Only authors with something to show.
        return Author.objects.filter(bylines__post__in=Post.objects.published()).distinct()


SITEMAPS = {"columns": ColumnSitemap, "series": SeriesSitemap, "authors": AuthorSitemap}
