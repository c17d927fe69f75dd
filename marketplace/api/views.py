"""REST API v1 for people, data, model versions, payouts and API keys (thin views).

Every queryset is narrowed to what the user may see, so someone else's object answers 404.
Staff see everything; a contributor sees their own data groups and payouts; partners read
contributors and model versions (rounds and values live in ``attribution.api.views``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from marketplace.api.permissions import ActsForContributor, contributor_of, is_staff
from marketplace.api.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    ContributorSerializer,
    DataGroupSerializer,
    DataGroupUploadSerializer,
    PayoutSerializer,
    UploadRejectedSerializer,
)
from marketplace.models import ApiKey, Contributor, DataGroup, Payout
from marketplace.services import create_data_group
from marketplace.uploads.images import UploadRejected

INTEGER_ID = r"[0-9]+"


class ContributorViewSet(viewsets.ReadOnlyModelViewSet):
    """Contributors' public identity: key, name, kind."""

    queryset = Contributor.objects.all()
    serializer_class = ContributorSerializer
    lookup_field = "key"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"


@extend_schema_view(
    list=extend_schema(
        description="Your data groups, newest first (staff: everyone's; partners: none)."
    ),
    retrieve=extend_schema(description="One of your data groups (staff: anyone's)."),
    create=extend_schema(
        description=(
            "Upload a data group as multipart: images (one label or caption for all), or one "
            "zip with a labels.csv or captions.csv. Everything is validated first; a refused "
            "upload lists every problem and saves nothing. Needs an account that acts for a "
            "contributor; the group awaits review."
        ),
        request={"multipart/form-data": DataGroupUploadSerializer},
        responses={
            201: DataGroupSerializer,
            400: OpenApiResponse(
                UploadRejectedSerializer,
                description="The upload was refused (every problem listed); nothing was saved.",
            ),
        },
    ),
)
class DataGroupViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Data groups: a contributor's own uploads; staff see all; others none."""

    serializer_class = DataGroupSerializer
    parser_classes = [MultiPartParser]  # files travel as multipart; other types answer 415
    filterset_fields = ["status"]
    lookup_value_regex = INTEGER_ID

    def get_queryset(self) -> QuerySet[DataGroup]:
        groups = (
            DataGroup.objects.select_related("contributor")
            .annotate(n_records=Count("records"))
            .order_by("-created_at", "-pk")  # GROUP BY queries ignore Meta.ordering
        )
        user = self.request.user
        if is_staff(user):
            return groups
        contributor = contributor_of(user)
        return groups.filter(contributor=contributor) if contributor else groups.none()

    def get_permissions(self) -> list[BasePermission]:
        if self.action == "create":
            return [IsAuthenticated(), ActsForContributor()]
        return super().get_permissions()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        upload = DataGroupUploadSerializer(data=request.data)
        if not upload.is_valid():
            return refuse_upload(field_problems(upload.errors), errors=upload.errors)
        data = upload.validated_data
        files = [(image.name, image) for image in data["images"]]
        names = [name for name, _ in files]
        archive = data.get("archive")
        try:
            group = create_data_group(
                contributor_of(request.user),  # type: ignore[arg-type]  # checked by permission
                title=data["title"],
                consent=data["consent"],
                files=files,
                archive=(archive.name, archive) if archive else None,
                labels=dict.fromkeys(names, data["label"]) if data.get("label") else None,
                captions=dict.fromkeys(names, data["caption"]) if data.get("caption") else None,
            )
        except UploadRejected as rejected:
            return refuse_upload(rejected.problems)
        return Response(
            DataGroupSerializer(self.get_queryset().get(pk=group.pk)).data,
            status=status.HTTP_201_CREATED,
        )


def refuse_upload(problems: list[str], errors: Any = None) -> Response:
    """400 for an upload: every problem as one line; field errors also by field, as usual."""
    body: dict[str, Any] = {"detail": "The upload was refused.", "problems": problems}
    if errors:
        body["errors"] = errors
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


def field_problems(errors: Any, field: str = "") -> list[str]:
    """Flatten DRF's nested field errors into ``"field: message"`` lines."""
    if isinstance(errors, dict):
        return [
            line
            for name, nested in errors.items()
            for line in field_problems(nested, _child_field(field, str(name)))
        ]
    if isinstance(errors, list):
        return [line for item in errors for line in field_problems(item, field)]
    return [f"{field}: {errors}" if field else str(errors)]


def _child_field(field: str, name: str) -> str:
    if name == "non_field_errors":
        return field
    return f"{field}[{name}]" if field else name


class PayoutViewSet(viewsets.ReadOnlyModelViewSet):
    """Payouts: staff see all; a contributor sees their own; others none."""

    serializer_class = PayoutSerializer
    filterset_fields = ["batch"]
    lookup_value_regex = INTEGER_ID

    def get_queryset(self) -> QuerySet[Payout]:
        payouts = Payout.objects.select_related("batch", "contributor").order_by(
            "-batch__created_at", "-amount", "pk"
        )
        user = self.request.user
        if is_staff(user):
            return payouts
        contributor = contributor_of(user)
        return payouts.filter(contributor=contributor) if contributor else payouts.none()


@extend_schema_view(
    list=extend_schema(description="Your API keys (staff: everyone's); secrets are never shown."),
    create=extend_schema(
        description=(
            "Mint a key for yourself. The response's `key` is shown this once; only staff may "
            f"grant {ApiKey.ROUNDS_WRITE}."
        ),
        request=ApiKeyCreateSerializer,
        responses={201: ApiKeyCreatedSerializer},
    ),
    destroy=extend_schema(
        description="Revoke the key: it stops working at once. Revoking twice is harmless."
    ),
)
class ApiKeyViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The signed-in user's API keys (staff: everyone's). Mint one, list them, revoke one."""

    serializer_class = ApiKeySerializer
    lookup_field = "prefix"
    lookup_value_regex = r"[a-z0-9]+"

    def get_queryset(self) -> QuerySet[ApiKey]:
        keys = ApiKey.objects.select_related("owner").order_by("-created_at", "-pk")
        user = self.request.user
        return keys if is_staff(user) else keys.filter(owner=user.pk)

    def get_serializer_class(self) -> type[BaseSerializer]:
        return ApiKeyCreateSerializer if self.action == "create" else ApiKeySerializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ApiKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        scopes = serializer.validated_data["scopes"]
        if ApiKey.ROUNDS_WRITE in scopes and not is_staff(request.user):
            raise PermissionDenied(f"Only staff may grant the {ApiKey.ROUNDS_WRITE} scope.")
        key, plaintext = ApiKey.create(request.user, serializer.validated_data["name"], scopes)
        body = {**ApiKeySerializer(key).data, "key": plaintext}
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: ApiKey) -> None:
        instance.revoke()


def show_api_index(request: HttpRequest) -> HttpResponse:
    """``/api/v1/``: where the schema and its two renderings live, and how to start.

    Browsers get a page; a client that asks for JSON (``Accept: application/json``) gets the
    links as JSON. Public, like the schema itself.
    """
    links = {
        "schema": request.build_absolute_uri(reverse("api-schema")),
        "swagger_ui": request.build_absolute_uri(reverse("api-docs")),
        "redoc": request.build_absolute_uri(reverse("api-redoc")),
        "api_keys": request.build_absolute_uri(reverse("api-keys")),
    }
    accept = request.headers.get("Accept", "")
    if "application/json" in accept and "text/html" not in accept:
        return JsonResponse(links)
    return render(request, "api/index.html", {"links": links})
