from django.contrib import admin

from liveblog.models import Author, Byline, Column, LinkCard, Post, Series


@admin.register(Series)
class SeriesAdmin(admin.ModelAdmin):
    list_display = ["title", "slug"]
    search_fields = ["title"]
    prepopulated_fields = {"slug": ["title"]}


@admin.register(Author)
class AuthorAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "user"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Column)
class ColumnAdmin(admin.ModelAdmin):
    list_display = ["title", "state", "started_at", "series"]
    list_filter = ["state", "series"]
    search_fields = ["title", "standfirst"]
    prepopulated_fields = {"slug": ["title"]}
    date_hierarchy = "started_at"


class BylineInline(admin.TabularInline):
    model = Byline
    extra = 1
    autocomplete_fields = ["author"]


class LinkCardInline(admin.StackedInline):
    model = LinkCard
    extra = 0


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ["headline", "column", "status", "published_at", "pinned", "key_event"]
    list_filter = ["status", "column", "bylines__author", "pinned", "key_event"]
    search_fields = ["headline", "body"]
    date_hierarchy = "published_at"
    inlines = [BylineInline, LinkCardInline]
    ordering = ["-published_at"]
