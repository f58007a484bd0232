from django import forms
from django.contrib import admin

from liveblog import linkcards
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


class LinkCardForm(forms.ModelForm):
    url = forms.URLField(label="URL", max_length=2000, assume_scheme="https")
    canonical_url = forms.URLField(
        label="canonical URL", max_length=2000, required=False, assume_scheme="https",
        help_text="The address the page gives for itself.",
    )  # fmt: skip
    fetch_again = forms.BooleanField(
        required=False,
        label="Fetch again",
        help_text="Read the page anew when you save. What you typed is kept; empty a field to take the page's value.",
    )

    class Meta:
        model = LinkCard
        fields = ["url", "title", "summary", "site_name", "image", "image_alt", "canonical_url", "embedded_at"]


class LinkCardInline(admin.StackedInline):
    model = LinkCard
    form = LinkCardForm
    extra = 0
    fields = [
        "url", "fetch_state", "fetch_note", "fetch_again", "title", "summary", "site_name",
        "image", "image_alt", "canonical_url", "embedded_at",
    ]  # fmt: skip
    readonly_fields = ["fetch_state", "fetch_note"]


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ["headline", "column", "status", "published_at", "pinned", "key_event"]
    list_filter = ["status", "column", "bylines__author", "pinned", "key_event"]
    search_fields = ["headline", "body"]
    date_hierarchy = "published_at"
    inlines = [BylineInline, LinkCardInline]
    ordering = ["-published_at"]
    actions = ["fetch_link_cards_again"]

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        if formset.model is LinkCard:
            for card_form in formset.forms:
                card = card_form.instance
                if card.pk is None or card_form in formset.deleted_forms:
                    continue
                # A card added by hand with nothing but its URL is filled from the page like a pasted one,
                # and a card whose URL the editor changed describes another page now.
                added_bare = card in formset.new_objects and not card.title
                moved = card in formset.changed_objects and "url" in card_form.changed_data
                if card_form.cleaned_data.get("fetch_again") or added_bare or moved:
                    linkcards.fetch_again(card)

    @admin.action(description="Fetch the link cards of the selected posts again")
    def fetch_link_cards_again(self, request, queryset):
        cards = LinkCard.objects.filter(post__in=queryset)
        for card in cards:
            linkcards.fetch_again(card)
        self.message_user(request, f"Fetching {len(cards)} link card(s) again; they fill in within seconds.")
