"""The live desk: one admin page per column where editors write, publish, correct and watch it, live.

Every change made here is a plain model save in a transaction, so readers are told by the same events as
for any other save (liveblog.broadcast); open desks hear of drafts and scheduled posts through
liveblog.deskfeed. The page itself is `templates/admin/liveblog/desk.html` with `static/liveblog/desk.js`.
"""

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelectMultiple
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from liveblog import body, deskconsumer, deskfeed, editing
from liveblog.csp import editor_page
from liveblog.models import Author, Autosave, Byline, Column, Event, Post

STREAM_LIMIT = 300  # posts on the desk; older ones are in the admin's post list
AUTOSAVE_MAX_BODY = 200_000  # characters of body kept by one autosave

# A save that gave up waiting for rows someone else holds (editing.Busy) answers 409, not 503: the server is
# well and the request was right, it only conflicts with the post's current state (another transaction is
# changing it), as a version conflict does. A 5xx would count as the site failing (alerts, proxies that retry
# or put up their own page), and the desk already shows a 409's errors beside the editor's text.
BUSY_STATUS = 409
BUSY_ACTION = f"Not done: {editing.BUSY_NOW}. Try again in a moment."


class Action:
    PUBLISH = "publish"
    DRAFT = "draft"
    SCHEDULE = "schedule"
    SAVE = "save"  # an edit that keeps the post's status
    ALL = (PUBLISH, DRAFT, SCHEDULE, SAVE)


class DeskPostForm(forms.ModelForm):
    authors = forms.ModelMultipleChoiceField(
        queryset=Author.objects.all(),
        label="Bylines",
        widget=AutocompleteSelectMultiple(Post._meta.get_field("authors"), admin.site),
        error_messages={"required": "Give the post at least one byline."},
    )
    publish_at = forms.DateTimeField(
        label="Schedule for (GMT)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    base_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Post
        fields = ["headline", "body", "pinned", "key_event"]
        error_messages = {"headline": {"required": "Give the post a headline."}}

    def __init__(self, *args, action=Action.SAVE, **kwargs):
        super().__init__(*args, **kwargs)
        self.action = action
        self.fields["headline"].widget.attrs.update({"autocomplete": "off", "class": "vTextField desk-headline"})
        if self.instance.pk:
            self.fields["base_version"].initial = self.instance.version
            self.fields["authors"].initial = self.instance.ordered_authors()
            if self.instance.status == Post.Status.SCHEDULED:
                self.fields["publish_at"].initial = self.instance.published_at

    def clean(self):
        cleaned = super().clean()
        editing.check_version(self, self.instance)
        if self.action == Action.SCHEDULE:
            when = cleaned.get("publish_at")
            if when is None:
                self.add_error("publish_at", "Choose when the post goes live.")
            elif when <= timezone.now():
                self.add_error("publish_at", "This time has passed: choose a time in the future, or publish now.")
        return cleaned

    def ordered_authors(self):
        """The bylines in the order the editor gave them (a queryset would sort them by name)."""
        chosen = {author.pk: author for author in self.cleaned_data["authors"]}
        order = [int(pk) for pk in self.data.getlist(self.add_prefix("authors")) if pk.isdigit()]
        return [chosen[pk] for pk in dict.fromkeys(order) if pk in chosen]


# The pages and actions


def desk_urls(admin_site):
    def view(function):
        return admin_site.admin_view(function)

    return [
        path("<int:column_id>/desk/", view(desk), name="liveblog_column_desk"),
        path("<int:column_id>/desk/posts/", view(create_post), name="liveblog_column_desk_create"),
        path("<int:column_id>/desk/posts/<int:post_id>/", view(edit_post), name="liveblog_column_desk_post"),
        path("<int:column_id>/desk/posts/<int:post_id>/card", view(post_card), name="liveblog_column_desk_card"),
        path(
            "<int:column_id>/desk/posts/<int:post_id>/<slug:action>",
            view(post_action),
            name="liveblog_column_desk_action",
        ),
        path("<int:column_id>/desk/autosave", view(autosave), name="liveblog_column_desk_autosave"),
    ]


def require(request, permission):
    if not request.user.has_perm(f"liveblog.{permission}"):
        raise PermissionDenied(f"This needs the “{permission.replace('_', ' ')}” permission.")


@editor_page  # CKEditor's inline handlers and styles: the CSP exception of every page that loads it
@require_GET
def desk(request, column_id):
    require(request, "view_post")
    column = get_object_or_404(Column, pk=column_id)
    posts = list(column.posts.for_display().order_by("-published_at", "-id")[:STREAM_LIMIT])
    last_seq = Event.objects.filter(column=column).order_by("-seq").values_list("seq", flat=True).first() or 0
    form = DeskPostForm(prefix="new", initial={"authors": default_authors(request.user, column)})
    saved = Autosave.objects.filter(user=request.user, column=column, post=None).first()
    context = {
        **admin.site.each_context(request),
        "title": f"Desk: {column.title}",
        "subtitle": None,
        "opts": Column._meta,
        "column": column,
        "form": form,
        "posts": posts,
        "can": editing.permissions(request.user),
        "config": {
            "column": column.pk,
            "socket": f"/ws/desk/{column.pk}/?after={last_seq}",
            "create": reverse("admin:liveblog_column_desk_create", args=[column.pk]),
            "post": reverse("admin:liveblog_column_desk_post", args=[column.pk, 0]),
            "card": reverse("admin:liveblog_column_desk_card", args=[column.pk, 0]),
            "autosave": reverse("admin:liveblog_column_desk_autosave", args=[column.pk]),
            "user": request.user.pk,
            "saved": autosave_dict(saved),
            "presence_seconds": deskconsumer.PRESENCE_SECONDS,
            "presence_expires": deskconsumer.PRESENCE_EXPIRES,
        },
    }
    return TemplateResponse(request, "admin/liveblog/desk.html", context)


@require_POST
def create_post(request, column_id):
    require(request, "add_post")
    column = get_object_or_404(Column, pk=column_id)
    action = request.POST.get("action", Action.PUBLISH)
    if action not in (Action.PUBLISH, Action.DRAFT, Action.SCHEDULE):
        return JsonResponse({"errors": {"__all__": ["Publish, save a draft or schedule."]}}, status=400)
    post = Post(column=column, created_by=request.user)
    return save_from_desk(request, column, post, action, prefix="new")


@require_http_methods(["GET", "POST"])
def edit_post(request, column_id, post_id):
    """GET: the composer form filled with the post, for editing in place. POST: save the edit."""
    require(request, "change_post")
    post = get_object_or_404(Post.objects.for_display(), pk=post_id, column_id=column_id)
    prefix = f"edit-{post.pk}"
    if request.method == "GET":
        saved = Autosave.objects.filter(user=request.user, post=post).first()
        form = DeskPostForm(instance=post, prefix=prefix)
        html = render_to_string(
            "admin/liveblog/_desk_composer.html",
            {"form": form, "post": post, "can": editing.permissions(request.user)},
            request,
        )
        return JsonResponse({"html": html, "version": post.version, "saved": autosave_dict(saved)})
    action = request.POST.get("action", Action.SAVE)
    if action not in Action.ALL:
        return JsonResponse({"errors": {"__all__": ["Save, publish, save as draft or schedule."]}}, status=400)
    return save_from_desk(request, post.column, post, action, prefix=prefix)


def save_from_desk(request, column, post, action, prefix):
    try:
        with editing.saving_without_waiting_long():  # the version check locks the post until the save commits
            form = DeskPostForm(request.POST, instance=post, prefix=prefix, action=action)
            if not form.is_valid():
                return form_errors(form)
            post = form.save(commit=False)
            if action == Action.PUBLISH and post.status != Post.Status.PUBLISHED:
                post.published_at = timezone.now()  # the moment of publishing, not of opening the composer
            if action == Action.SCHEDULE:
                post.published_at = form.cleaned_data["publish_at"]
            post.status = {
                Action.PUBLISH: Post.Status.PUBLISHED,
                Action.DRAFT: Post.Status.DRAFT,
                Action.SCHEDULE: Post.Status.SCHEDULED,
            }.get(action, post.status)
            post.save()
            set_bylines(post, form.ordered_authors())
            Autosave.objects.filter(user=request.user, column=column, post=post if prefix != "new" else None).delete()
            deskfeed.post_saved_by(post, request.user, editing.editor_name(request.user))
    except editing.Busy:
        return JsonResponse({"errors": {"__all__": [editing.BUSY]}}, status=BUSY_STATUS)
    if not wants_json(request):
        return redirect("admin:liveblog_column_desk", column.pk)
    post = Post.objects.for_display().get(pk=post.pk)  # with the bylines just saved
    return JsonResponse(
        {"post": post.pk, "version": post.version, "status": post.status, "card": card_html(request, post)}
    )


def set_bylines(post, authors):
    """Bylines in the given order; saved one by one, so readers get them in the post's one event."""
    existing = {byline.author_id: byline for byline in Byline.objects.filter(post=post)}
    for byline in existing.values():
        if byline.author not in authors:
            byline.delete()
    for position, author in enumerate(authors):
        byline = existing.get(author.pk)
        if byline is None:
            Byline.objects.create(post=post, author=author, position=position)
        elif byline.position != position:
            byline.position = position
            byline.save(update_fields=["position"])


@require_POST
def post_action(request, column_id, post_id, action):
    """The stream's one-click controls. Each is one save (or delete) of the post."""
    required = "delete_post" if action == "delete" else "change_post"
    require(request, required)
    try:
        with editing.saving_without_waiting_long():
            post = get_object_or_404(Post.objects.select_for_update(), pk=post_id, column_id=column_id)
            if action == "delete":
                post.delete()
                if not wants_json(request):
                    return redirect("admin:liveblog_column_desk", column_id)
                return JsonResponse({"deleted": post_id})
            changes = {
                "publish-now": {"status": Post.Status.PUBLISHED, "published_at": timezone.now()},
                "unpublish": {"status": Post.Status.DRAFT},
                "pin": {"pinned": True},
                "unpin": {"pinned": False},
                "key-event-on": {"key_event": True},
                "key-event-off": {"key_event": False},
            }.get(action)
            if changes is None:
                return JsonResponse({"error": f"Unknown action “{action}”."}, status=404)
            for field, value in changes.items():
                setattr(post, field, value)
            post.save(update_fields=[*changes, "updated_at"])
            deskfeed.post_saved_by(post, request.user, editing.editor_name(request.user))
    except editing.Busy:
        return JsonResponse({"error": BUSY_ACTION}, status=BUSY_STATUS)
    if not wants_json(request):
        return redirect("admin:liveblog_column_desk", column_id)
    post = Post.objects.for_display().get(pk=post.pk)
    return JsonResponse(
        {"post": post.pk, "version": post.version, "status": post.status, "card": card_html(request, post)}
    )


@require_GET
def post_card(request, column_id, post_id):
    """One post of the stream as the desk shows it; open desks fetch it when it changes."""
    require(request, "view_post")
    post = Post.objects.for_display().filter(pk=post_id, column_id=column_id).first()
    if post is None:
        return HttpResponse(status=404)
    return HttpResponse(card_html(request, post))


@require_http_methods(["POST", "DELETE"])
def autosave(request, column_id):
    """What the editor has typed and not sent, kept for them on the server (another device, a crash)."""
    if not (request.user.has_perm("liveblog.add_post") or request.user.has_perm("liveblog.change_post")):
        raise PermissionDenied("Autosave is for editors who may write posts.")
    column = get_object_or_404(Column, pk=column_id)
    post_id = request.POST.get("post") or None
    post = None
    if post_id is not None:
        require(request, "change_post")
        post = get_object_or_404(Post.objects.only("pk", "version", "column_id"), pk=post_id, column=column)
    try:
        # A copy of an edit refers to its post: storing it waits for a post row someone else holds.
        with editing.saving_without_waiting_long():
            slot = Autosave.objects.filter(user=request.user, column=column, post=post)
            if request.method == "DELETE" or request.POST.get("discard"):
                slot.delete()
                return JsonResponse({"discarded": True})
            content = {
                "headline": request.POST.get("headline", "")[:300],
                "body": body.clean_html(request.POST.get("body", "")[:AUTOSAVE_MAX_BODY]),
                "authors": [
                    {"id": author.pk, "name": author.name}
                    for author in Author.objects.filter(
                        pk__in=[a for a in request.POST.getlist("authors") if a.isdigit()][:20]
                    )
                ],
                "pinned": request.POST.get("pinned") == "true",
                "key_event": request.POST.get("key_event") == "true",
                "publish_at": request.POST.get("publish_at", "")[:30],
            }
            base_version = request.POST.get("base_version")
            base_version = int(base_version) if base_version and base_version.isdigit() else None
            saved, _ = Autosave.objects.update_or_create(
                user=request.user,
                column=column,
                post=post,
                defaults={"content": content, "base_version": base_version, "saved_at": timezone.now()},
            )
            conflict = post is not None and base_version is not None and base_version != post.version
            if conflict:
                deskfeed.autosave_conflict(column.pk, post.pk, editing.editor_name(request.user))
            return JsonResponse({"saved_at": saved.saved_at.isoformat(), "conflict": conflict})
    except editing.Busy:
        return JsonResponse({"error": f"Not kept on the server: {editing.BUSY_NOW}."}, status=BUSY_STATUS)


# Helpers


def saved_answer(request, post):
    card = card_html(request, post)
    return JsonResponse({"post": post.pk, "version": post.version, "status": post.status, "card": card})


def card_html(request, post):
    context = {"post": post, "can": editing.permissions(request.user)}
    return render_to_string("admin/liveblog/_desk_post.html", context, request)


def form_errors(form):
    errors = {
        (name if name == "__all__" else form.add_prefix(name)): [str(m) for m in messages]
        for name, messages in form.errors.items()
    }
    answer = {"errors": errors}
    conflict = getattr(form, "conflict", None)
    if conflict is not None:
        answer["conflict"] = {
            "version": conflict.version,
            "headline": conflict.headline,
            "body": conflict.body,
            "authors": [{"id": a.pk, "name": a.name} for a in conflict.ordered_authors()],
        }
        return JsonResponse(answer, status=409)
    return JsonResponse(answer, status=400)


def wants_json(request):
    return "application/json" in request.headers.get("Accept", "")


def default_authors(user, column):
    """The editor's own byline when their login is tied to an author, else the last one they used here."""
    own = Author.objects.filter(user=user).first()
    if own is not None:
        return [own]
    last = column.posts.filter(created_by=user).order_by("-created_at").first()
    return last.ordered_authors() if last else []


def autosave_dict(saved):
    if saved is None:
        return None
    return {
        **saved.content,
        "post": saved.post_id,
        "base_version": saved.base_version,
        "saved_at": saved.saved_at.isoformat(),
    }
