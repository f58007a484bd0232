"""Where editors work (docs/editing.md): columns, posts with their bylines and link cards, authors."""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from liveblog import broadcast, desk, editing, linkcards
from liveblog.csp import editor_page
from liveblog.models import Author, Byline, Column, LinkCard, Post, Series

# The admin's date and time inputs have no sub-minute precision worth trusting.
FUTURE_GRACE = timedelta(minutes=1)


def add_post_url(column_id):
    return f"{reverse('admin:liveblog_post_add')}?{urlencode({'column': column_id})}"


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


class SavesWithoutWaitingLong:
    """Admin mixin: a save that would wait for a long transaction's locks gives up after
    editing.SAVE_LOCK_TIMEOUT and shows the form again, with what the editor typed and a clear error, instead
    of hanging."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST":
            try:
                with editing.saving_without_waiting_long():
                    return super().changeform_view(request, object_id, form_url, extra_context)
            except editing.Busy:
                request.liveblog_busy = True  # nothing was saved: validate again, refusing, to show the form
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        return refusing(form) if getattr(request, "liveblog_busy", False) else form


def refusing(form_class):
    class Busy(form_class):
        def clean(self):
            # Nothing else is checked: the form's own checks (the post's version) would wait for the held rows.
            raise ValidationError(editing.BUSY, code="busy")

    return Busy


@admin.register(Column)
class ColumnAdmin(SavesWithoutWaitingLong, admin.ModelAdmin):
    list_display = ["title", "state", "started_at", "series", "post_count", "add_post_link", "desk_link"]
    list_filter = ["state", "series"]
    search_fields = ["title", "standfirst"]
    prepopulated_fields = {"slug": ["title"]}
    date_hierarchy = "started_at"
    ordering = ["-started_at"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "series", "state", "started_at", "ended_at", "standfirst"]}),
        ("Header photo", {"fields": ["header_photo", "header_photo_alt", "photo_credit"]}),
        ("Sharing", {"fields": ["press_image"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("series").annotate(post_total=Count("posts"))

    @admin.display(description="posts", ordering="post_total")
    def post_count(self, column):
        url = f"{reverse('admin:liveblog_post_changelist')}?{urlencode({'column__id__exact': column.pk})}"
        return format_html('<a href="{}">{}</a>', url, column.post_total)

    @admin.display(description="")
    def add_post_link(self, column):
        return format_html('<a class="addlink" href="{}">Add a post here</a>', add_post_url(column.pk))

    @admin.display(description="")
    def desk_link(self, column):
        return format_html(
            '<a href="{}">Open the desk<span class="visually-hidden"> of {}</span></a>',
            reverse("admin:liveblog_column_desk", args=[column.pk]),
            column.title,
        )

    def get_urls(self):
        return desk.desk_urls(self.admin_site) + super().get_urls()


class BylineFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        kept = [f for f in self.forms if f.cleaned_data.get("author") and not self._should_delete_form(f)]
        if not kept:
            raise forms.ValidationError("Give the post at least one byline.")


class BylineInline(admin.TabularInline):
    model = Byline
    formset = BylineFormSet
    fields = ["author", "position"]
    autocomplete_fields = ["author"]
    extra = 1
    min_num = 1
    verbose_name = "byline"
    verbose_name_plural = "bylines (shown to readers in this order)"


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
        "image", "image_alt", "canonical_url", "embedded_at", "press_image_action",
    ]  # fmt: skip
    readonly_fields = ["fetch_state", "fetch_note", "press_image_action"]
    verbose_name_plural = "link cards (a paragraph holding only the card's URL places it in the body)"

    @admin.display(description="Press image")
    def press_image_action(self, card):
        if not card.pk or not card.image:
            return "Give this card an image and save to offer it as the column's press image."
        # A button inside the admin form posts the form's own CSRF token to the press-image view.
        return format_html(
            '<button type="submit" class="button" formaction="{}" formmethod="post" formnovalidate'
            ' name="next" value="{}">Set as default press image</button>'
            '<p class="help">Unsaved changes on this page are not kept when you press it.</p>',
            reverse("set_press_image", args=[card.pk]),
            reverse("admin:liveblog_post_change", args=[card.post_id]),
        )


class PostAdminForm(forms.ModelForm):
    # The version the editor's form was opened on (liveblog.editing refuses saving over a newer one).
    base_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Post
        fields = ["column", "headline", "body", "status", "published_at", "pinned", "key_event"]
        widgets = {"headline": forms.TextInput(attrs={"class": "vTextField", "style": "width: min(100%, 40em)"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["base_version"].initial = self.instance.version
        # Tells an untouched publish time (the moment the form opened) from one the editor typed.
        self.fields["published_at"].show_hidden_initial = True

    def clean(self):
        cleaned = super().clean()
        editing.check_version(self, self.instance)
        editing.publish_time_is_now(self, cleaned)
        published_at = cleaned.get("published_at")
        if (
            cleaned.get("status") == Post.Status.PUBLISHED
            and published_at
            and published_at > timezone.now() + FUTURE_GRACE
        ):
            self.add_error(
                "published_at",
                "This publish time is in the future, so readers would not see the post until then. "
                "To publish it at that time, set the status to “Scheduled”; to publish now, use the current time.",
            )
        return cleaned


@admin.register(Post)
class PostAdmin(SavesWithoutWaitingLong, admin.ModelAdmin):
    form = PostAdminForm
    list_display = ["headline", "column", "status", "published_at", "byline_names", "pinned", "key_event"]
    list_filter = ["column", "status", "authors", "pinned", "key_event"]
    list_select_related = ["column"]
    search_fields = ["headline", "body"]
    date_hierarchy = "published_at"
    inlines = [BylineInline, LinkCardInline]
    ordering = ["-published_at", "-id"]
    fields = ["column", "headline", "body", "status", "published_at", "pinned", "key_event", "base_version"]
    save_on_top = True
    actions = ["fetch_link_cards_again"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("bylines__author")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @editor_page
    def changeform_view(self, *args, **kwargs):
        # The add and change forms load CKEditor: the one page type with the editor's CSP exception.
        return super().changeform_view(*args, **kwargs)

    @admin.display(description="by")
    def byline_names(self, post):
        return ", ".join(author.name for author in post.ordered_authors())

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
        if formset.model is Byline:
            # Readers see bylines in the order the editor listed them; ties keep the form's order.
            kept = sorted(
                (f.instance for f in formset.forms if f.instance.pk and f not in formset.deleted_forms),
                key=lambda byline: byline.position,
            )
            for position, byline in enumerate(kept):
                if byline.position != position:
                    byline.position = position
                    byline.save(update_fields=["position"])

    def response_add(self, request, obj, post_url_continue=None):
        return self.keep_column(request, obj, super().response_add(request, obj, post_url_continue))

    def response_change(self, request, obj):
        return self.keep_column(request, obj, super().response_change(request, obj))

    def keep_column(self, request, post, response):
        """'Save and add another' opens the next post in the same column."""
        if broadcast.pending(post):
            # Saved, but its publication had to wait (another publisher held the column past the lock
            # timeout, or the database failed): the scheduler's sweep sends it within seconds.
            self.message_user(
                request,
                f"“{post}” is saved, but it has not reached readers yet: publishing had to wait. "
                "It goes out by itself within a few seconds; there is nothing to redo.",
                messages.WARNING,
            )
        if (
            "_addanother" in request.POST
            and IS_POPUP_VAR not in request.POST
            and isinstance(response, HttpResponseRedirect)
        ):
            url = response["Location"]
            response["Location"] = f"{url}{'&' if '?' in url else '?'}{urlencode({'column': post.column_id})}"
        return response

    @admin.action(description="Fetch the link cards of the selected posts again")
    def fetch_link_cards_again(self, request, queryset):
        cards = LinkCard.objects.filter(post__in=queryset)
        for card in cards:
            linkcards.fetch_again(card)
        self.message_user(request, f"Fetching {len(cards)} link card(s) again; they fill in within seconds.")
