"""The API-keys settings page: create a key with scopes, see it once, list keys, revoke one.

The site's twin of ``/api/v1/api-keys/``, for people who would rather not mint their first key
through Swagger's try-it-out. The plaintext key is rendered once, in the response to the POST
that created it (never stored, never put in the session or a redirect), with ``no-store`` so the
browser does not keep the page either.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache

from marketplace.models import ApiKey, User

SCOPE_HELP = {
    ApiKey.ROUNDS_WRITE: "Create and start valuation rounds (staff only).",
}


class ApiKeyForm(forms.Form):
    """A key's name and, for staff, its scopes (every key may read what its owner may read)."""

    name = forms.CharField(
        max_length=ApiKey._meta.get_field("name").max_length,
        help_text="What the key is for, e.g. “nightly export”. Only you and staff see it.",
    )
    scopes = forms.MultipleChoiceField(
        choices=[(scope, f"{scope}: {SCOPE_HELP.get(scope, '')}") for scope in ApiKey.SCOPES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Every key can read what your account can read. Scopes add write access.",
    )

    def __init__(self, *args: object, user: User, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if not user.is_staff:
            del self.fields["scopes"]  # only staff may grant rounds:write (as in the API)


@never_cache
@login_required
def list_api_keys(request: HttpRequest) -> HttpResponse:
    """The user's keys (newest first) and the form to create one; a POST creates it."""
    user: User = request.user  # type: ignore[assignment]
    form = ApiKeyForm(request.POST or None, user=user)
    created: tuple[ApiKey, str] | None = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            scopes = form.cleaned_data.get("scopes") or []
            created = ApiKey.create(user, form.cleaned_data["name"].strip(), scopes)
            form = ApiKeyForm(user=user)
        else:
            status = 400
    keys = ApiKey.objects.filter(owner=user).order_by("-created_at", "-pk")
    context = {"form": form, "keys": keys, "created": created}
    return render(request, "marketplace/api_keys.html", context, status=status)


@never_cache
@login_required
def revoke_api_key(request: HttpRequest, prefix: str) -> HttpResponse:
    """GET: a confirmation page saying what revoking does; POST: revoke the key for good."""
    key = get_object_or_404(ApiKey, prefix=prefix, owner=request.user.pk)
    if request.method == "POST":
        key.revoke()
        messages.success(request, f"Revoked the key {key.prefix}… ({key.name}).")
        return redirect("api-keys")
    return render(request, "marketplace/api_key_revoke.html", {"key": key})
