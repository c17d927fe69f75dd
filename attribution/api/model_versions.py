"""REST API v1 for model versions: read them with the metrics they offer; register one (staff).

Registration goes through ``attribution.model_registration``, which checks every file before
saving; a refused registration is a 400 listing every problem.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from attribution.engine.metrics.catalog import METRICS
from attribution.engine.profiles import PROFILES
from attribution.model_registration import RegistrationError, register_model_version
from attribution.rounds.config import model_spec
from marketplace.api.permissions import is_staff
from marketplace.api.serializers import ModelVersionSerializer
from marketplace.api.views import INTEGER_ID
from marketplace.models import ModelVersion


class OfferedMetricSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    unit = serializers.CharField()
    purpose = serializers.CharField(help_text="payout, or audit (never paid out).")


class ModelVersionDetailSerializer(ModelVersionSerializer):
    """A model version (without its local file paths) and the metrics its rounds can use."""

    metrics = serializers.SerializerMethodField()

    class Meta(ModelVersionSerializer.Meta):
        fields = [*ModelVersionSerializer.Meta.fields, "metrics"]
        read_only_fields = fields

    @extend_schema_field(OfferedMetricSerializer(many=True))
    def get_metrics(self, version: ModelVersion) -> list[dict[str, str]]:
        return offered_metrics(version)


def offered_metrics(version: ModelVersion) -> list[dict[str, str]]:
    """The catalog entries of the metrics ``version``'s profile offers for its configuration."""
    profile = PROFILES.get(version.kind)
    if profile is None:
        return []
    names = profile.available_metrics(model_spec(version))
    return [
        {
            "name": n,
            "label": METRICS[n].label,
            "unit": METRICS[n].unit,
            "purpose": METRICS[n].purpose,
        }
        for n in names
    ]


class ModelVersionRegistrationSerializer(serializers.Serializer):
    """What a staff member registers: local paths only, never URLs."""

    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=ModelVersion.Kind.choices)
    path = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    conditions = serializers.ChoiceField(
        choices=ModelVersion.Conditions.choices, default=ModelVersion.Conditions.PROMPT
    )
    lora_path = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    lora_scale = serializers.FloatField(default=1.0, min_value=0.0, max_value=10.0)
    scheduler = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    n_steps = serializers.IntegerField(default=25, min_value=1, max_value=1000)
    guidance_scale = serializers.FloatField(default=7.5, min_value=0.0, max_value=100.0)
    resolution = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=8, max_value=4096
    )
    dtype = serializers.ChoiceField(
        choices=ModelVersion.Dtype.choices, allow_blank=True, default=""
    )
    null_label = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, max_value=2**31 - 1
    )
    clip_path = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    inception_path = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default=""
    )
    aesthetic_head_path = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default=""
    )
    reference_group = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=2**63 - 1
    )
    reference_dir = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default=""
    )
    reference_stats_path = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default=""
    )
    class_prompts = serializers.ListField(
        child=serializers.CharField(max_length=500), max_length=1000, default=list
    )
    artefact_prompts = serializers.ListField(
        child=serializers.CharField(max_length=500), max_length=100, default=list
    )
    clean_prompts = serializers.ListField(
        child=serializers.CharField(max_length=500), max_length=100, default=list
    )

    def registration(self) -> ModelVersion:
        """The unsaved model version to check and register."""
        data = dict(self.validated_data)
        data["reference_group_id"] = data.pop("reference_group")
        return ModelVersion(**data)


class IsStaff(BasePermission):
    message = "Registering model versions needs a staff account."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_staff(request.user)


@extend_schema_view(
    list=extend_schema(description="Model versions, newest first, with the metrics they offer."),
    retrieve=extend_schema(description="One model version and the metrics its rounds can use."),
    create=extend_schema(
        description=(
            "Register a model version from local files (staff). Every path is checked first; "
            "a refused registration lists every problem and saves nothing."
        ),
        request=ModelVersionRegistrationSerializer,
        responses={
            201: ModelVersionDetailSerializer,
            400: OpenApiResponse(
                description=(
                    "What to fix: field errors as usual, or ``problems``, a list of every "
                    "problem the file checks found."
                )
            ),
        },
    ),
)
class ModelVersionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Model versions that rounds value (local paths are not shown)."""

    queryset = ModelVersion.objects.order_by("-created_at", "-pk")
    lookup_value_regex = INTEGER_ID

    def get_serializer_class(self) -> type[BaseSerializer]:
        if self.action == "create":
            return ModelVersionRegistrationSerializer
        return ModelVersionDetailSerializer

    def get_permissions(self) -> list[BasePermission]:
        if self.action == "create":
            return [IsAuthenticated(), IsStaff()]
        return super().get_permissions()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ModelVersionRegistrationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            version = register_model_version(serializer.registration())
        except RegistrationError as error:
            return Response({"problems": error.problems}, status=status.HTTP_400_BAD_REQUEST)
        return Response(ModelVersionDetailSerializer(version).data, status=status.HTTP_201_CREATED)
