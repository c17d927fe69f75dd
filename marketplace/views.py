"""Server-rendered marketplace pages."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from marketplace.forms import DataGroupUploadForm
from marketplace.models import DataGroup, DataRecord
from marketplace.services import create_data_group, withdraw_data_group
from marketplace.uploads.images import UploadRejected
from marketplace.uploads.limits import DEFAULT_LIMITS, format_bytes


def show_home(request: HttpRequest) -> HttpResponse:
    """Render the public home page that explains what Creditshare does."""
    return render(request, "home.html")


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page says: point them at the SVG icon."""
    return redirect(static("favicon.svg"), permanent=True)


@login_required
def after_login(request: HttpRequest) -> HttpResponse:
    """Send people where their work is: staff to the round dashboard, contributors to credit."""
    if request.user.is_operator:  # type: ignore[union-attr]
        return redirect("round-dashboard-list")
    if getattr(request.user, "contributor", None) is not None:
        return redirect("credit")
    return redirect("home")


@login_required
def list_data_groups(request: HttpRequest) -> HttpResponse:
    """The signed-in contributor's data groups, newest first."""
    contributor = request.user.contributor  # type: ignore[union-attr]
    if contributor is None:
        return HttpResponseForbidden("Your account does not act for a contributor.")
    groups = DataGroup.objects.filter(contributor=contributor).prefetch_related("records")
    return render(request, "marketplace/data_groups.html", {"groups": groups})


#: Thumbnails on a data group's page; the rest are counted, not shown (a group can hold 10,000).
MAX_THUMBNAILS = 60


@login_required
def show_data_group(request: HttpRequest, group_id: int) -> HttpResponse:
    """One of the contributor's data groups: review status and note, thumbnails with labels."""
    group = get_object_or_404(
        DataGroup,
        pk=group_id,
        contributor=request.user.contributor,  # type: ignore[union-attr]
    )
    records = group.records.order_by("pk")
    context = {
        "group": group,
        "records": records[:MAX_THUMBNAILS],
        "n_records": records.count(),
        "max_thumbnails": MAX_THUMBNAILS,
    }
    return render(request, "marketplace/data_group.html", context)


@login_required
def show_record_image(request: HttpRequest, record_id: int) -> FileResponse:
    """A record's image, to its own contributor only (media files are not public)."""
    record = get_object_or_404(
        DataRecord,
        pk=record_id,
        group__contributor=request.user.contributor,  # type: ignore[union-attr]
    )
    response = FileResponse(record.image.open("rb"), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
def upload_data_group(request: HttpRequest) -> HttpResponse:
    """Upload images or a zip as a new data group, pending review."""
    contributor = request.user.contributor  # type: ignore[union-attr]
    if contributor is None:
        return HttpResponseForbidden("Your account does not act for a contributor.")
    form = DataGroupUploadForm(request.POST or None, request.FILES or None)
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        files = [(f.name, f) for f in data["images"]]
        names = [name for name, _ in files]
        try:
            group = create_data_group(
                contributor,
                title=data["title"],
                consent=data["consent"],
                files=files,
                archive=(data["archive"].name, data["archive"]) if data["archive"] else None,
                labels=dict.fromkeys(names, data["label"]) if data["label"] else None,
                captions=dict.fromkeys(names, data["caption"]) if data["caption"] else None,
            )
        except UploadRejected as rejected:
            problems = list(rejected.problems)
        else:
            messages.success(
                request, f"Uploaded {group.records.count()} images; the group awaits review."
            )
            if request.headers.get("X-Requested-With") == "XMLHttpRequest":
                # static/js/upload.js sent it to show progress: it goes where a redirect would
                # (a followed redirect would take the message with it).
                return JsonResponse({"redirect": reverse("data-groups")})
            return redirect("data-groups")
    status = 400 if request.method == "POST" else 200
    return render_upload_form(request, form=form, problems=problems, status=status)


def render_upload_form(
    request: HttpRequest,
    *,
    form: DataGroupUploadForm | None = None,
    problems: Sequence[str] = (),
    status: int = 200,
) -> HttpResponse:
    """The upload page with its limits stated; ``problems`` say why the last upload was refused.

    Also how `marketplace.security.RequestLimitsMiddleware` answers a request too large to read.
    """
    limits = DEFAULT_LIMITS
    context = {
        "form": form if form is not None else DataGroupUploadForm(),
        "problems": list(problems),
        "limits": {
            "max_files": settings.DATA_UPLOAD_MAX_NUMBER_FILES,
            "max_file": format_bytes(limits.max_file_bytes),
            "max_archive": format_bytes(limits.max_archive_bytes),
            "max_members": f"{limits.max_archive_members:,}",
            "max_unpacked": format_bytes(limits.max_total_uncompressed_bytes),
            "max_pixels": f"{limits.max_pixels / 1e6:,.0f}",
            "max_side": f"{limits.max_side:,}",
            "max_upload_pixels": f"{limits.max_upload_pixels / 1e6:,.0f}",
        },
    }
    return render(request, "marketplace/upload.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def withdraw(request: HttpRequest, group_id: int) -> HttpResponse:
    """GET: a confirmation page saying what withdrawing does to past and future payouts;
    POST: withdraw one of the contributor's own data groups."""
    group = get_object_or_404(
        DataGroup,
        pk=group_id,
        contributor=request.user.contributor,  # type: ignore[union-attr]
    )
    if group.status == DataGroup.Status.WITHDRAWN:
        messages.info(request, f"“{group.title}” was already withdrawn.")
        return redirect("data-groups")
    if request.method == "POST":
        withdraw_data_group(group)
        messages.success(request, f"Withdrew “{group.title}”.")
        return redirect("data-groups")
    return render(
        request,
        "marketplace/withdraw_confirm.html",
        {"group": group, "n_records": group.records.count()},
    )
