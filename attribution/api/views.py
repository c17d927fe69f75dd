"""REST API v1 for valuation rounds and their values (thin views over ``services``).

Staff and partners see every round and every value. A contributor sees only the rounds they are
valued in, and in each only their own value row: never another contributor's numbers.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, OuterRef, Prefetch, QuerySet, Subquery
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from attribution.api.serializers import (
    ContributorValueSerializer,
    RoundCreateSerializer,
    RoundErrorSerializer,
    RoundSerializer,
    RoundSummarySerializer,
)
from attribution.models import ContributorValue, ValuationRound
from attribution.rounds.config import RoundConfigError
from attribution.rounds.services import RoundStateError, start_round
from marketplace.api.permissions import CanWriteRounds, contributor_of, sees_all_rounds
from marketplace.api.views import INTEGER_ID
from marketplace.models import Contributor


def visible_rounds(user: Any) -> QuerySet[ValuationRound]:
    """The rounds ``user`` may see: all for staff and partners, their own for a contributor.

    Each carries ``n_contributors`` (a correlated count); the large JSON columns, which the API
    never shows, stay in the database.
    """
    members = ValuationRound.contributors.through.objects.filter(
        valuationround=OuterRef("pk")
    ).order_by()
    rounds = (
        ValuationRound.objects.select_related("model_version")
        .defer("config", "diagnostics")
        .annotate(
            n_contributors=Subquery(
                members.values("valuationround").annotate(n=Count("pk")).values("n")
            )
        )
    )
    if sees_all_rounds(user):
        return rounds
    contributor = contributor_of(user)
    return rounds.filter(contributors=contributor) if contributor else rounds.none()


@extend_schema_view(
    list=extend_schema(
        description=(
            "Rounds you may see, newest first: every round for staff and partners, the rounds "
            "you are valued in for a contributor."
        )
    ),
    retrieve=extend_schema(description="One round: its state, progress and v(N), v(∅)."),
    create=extend_schema(
        description=(
            "Create a draft round (staff, or a partner API key with the rounds:write scope). "
            "Start it with POST rounds/{id}/start/."
        ),
        request=RoundCreateSerializer,
        responses={201: RoundSerializer},
    ),
)
class RoundViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Valuation rounds: read them; create a draft and start it (staff, or ``rounds:write``)."""

    filterset_fields = ["status", "metric"]
    lookup_value_regex = INTEGER_ID

    def get_queryset(self) -> QuerySet[ValuationRound]:
        rounds = visible_rounds(self.request.user).order_by("-created_at", "-pk")
        if self.action == "list":
            return rounds
        keys = Contributor.objects.only("key").order_by("key")
        return rounds.prefetch_related(Prefetch("contributors", queryset=keys))

    def get_serializer_class(self) -> type[BaseSerializer]:
        if self.action == "create":
            return RoundCreateSerializer
        return RoundSummarySerializer if self.action == "list" else RoundSerializer

    def get_permissions(self) -> list[BasePermission]:
        if self.action in ("create", "start"):
            return [IsAuthenticated(), CanWriteRounds()]
        return super().get_permissions()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = RoundCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        round = serializer.save(created_by=request.user)
        return Response(
            RoundSerializer(self.get_queryset().get(pk=round.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        request=None,
        responses={
            202: RoundSerializer,
            400: OpenApiResponse(RoundErrorSerializer, description="The round cannot run."),
            409: OpenApiResponse(RoundErrorSerializer, description="The round is not a draft."),
        },
    )
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: str | None = None) -> Response:
        """Freeze the draft's configuration and queue it; poll the round for progress."""
        round = self.get_object()
        try:
            start_round(round.pk, user=request.user)
        except RoundStateError as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        except RoundConfigError as error:
            return Response({"detail": str(error)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            RoundSerializer(self.get_queryset().get(pk=round.pk)).data,
            status=status.HTTP_202_ACCEPTED,
        )


class RoundValueList(generics.ListAPIView):
    """Values of one round, best first: staff and partners get every row, a contributor only
    their own."""

    serializer_class = ContributorValueSerializer
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[ContributorValue]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request data
            return ContributorValue.objects.none()
        user = self.request.user
        round = get_object_or_404(visible_rounds(user), pk=self.kwargs["round_id"])
        values = round.values.select_related("contributor").order_by("rank", "pk")
        if sees_all_rounds(user):
            return values
        return values.filter(contributor=contributor_of(user))
