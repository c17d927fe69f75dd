"""The contributor portal: a signed-in contributor's credit per round, statements and their CSV.

A contributor sees only their own numbers. The one view of other contributors is the anonymised
distribution chart, which carries bin counts, never anyone else's value, name or key.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from functools import wraps
from typing import Any, Concatenate

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from attribution.figures import figure_json
from attribution.portal.changes import compare_with_previous
from attribution.portal.charts import HistoryPoint, distribution_figure, history_figure
from attribution.portal.credit import (
    CSV_COLUMNS,
    CreditLine,
    build_statement,
    collect_credit,
    find_credit,
    round_values,
    summarise_earnings,
)
from attribution.portal.explanations import describe_policies, explain_method
from attribution.portal.schedule import next_payout
from marketplace.models import Contributor
from marketplace.payouts import csv_safe

#: A history needs at least two rounds to show a change; one round is the table's first row.
MIN_HISTORY_ROUNDS = 2

ContributorView = Callable[Concatenate[HttpRequest, Contributor, ...], HttpResponse]


def contributor_required(view: ContributorView) -> Callable[..., HttpResponse]:
    """Sign-in required; accounts that act for no contributor get a friendly 403 page.

    The wrapped view receives the contributor as its second argument.
    """

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        contributor = getattr(request.user, "contributor", None)
        if contributor is None:
            return render(request, "attribution/no_contributor.html", status=403)
        return view(request, contributor, *args, **kwargs)

    return wrapper


@contributor_required
def list_credit(request: HttpRequest, contributor: Contributor) -> HttpResponse:
    """The contributor's value, interval, rank, share and payout in every succeeded round."""
    lines = collect_credit(contributor)
    context: dict[str, Any] = {
        "contributor": contributor,
        "lines": lines,
        "earnings": summarise_earnings(contributor),
        "next_payout": next_payout(),
    }
    points = [
        HistoryPoint(
            title=line.round.title,
            date=line.finished_at.isoformat(),
            metric=line.round.get_metric_display(),
            pool_share=None if line.pool_share is None else float(line.pool_share),
            payout=None if line.payout is None else line.payout.display,
        )
        for line in lines[::-1]
    ]
    if sum(point.pool_share is not None for point in points) >= MIN_HISTORY_ROUNDS:
        context["history_figure"] = figure_json(history_figure(points))
    return render(request, "attribution/credit.html", context)


@contributor_required
def show_statement(request: HttpRequest, contributor: Contributor, round_id: int) -> HttpResponse:
    """How the contributor's number in one round was computed, in plain words."""
    line = _credit_or_404(contributor, round_id)
    statement = build_statement(line)
    figure = distribution_figure(
        round_values(line.round),
        own_value=line.value,
        own_ci=line.ci,
        unit=line.metric.unit,
    )
    policies = describe_policies()
    policy_name, policy_text = policies.policies.get(
        line.round.negative_policy, (line.round.get_negative_policy_display(), "")
    )
    context = {
        "statement": statement,
        "line": line,
        "round": line.round,
        "method": explain_method(
            line.round.estimator,
            n_evaluations=statement.n_evaluations,
            n_contributors=line.n_contributors,
        ),
        "policies": policies,
        "policy_name": policy_name,
        "policy_text": policy_text,
        "distribution_figure": figure_json(figure),
        "changes": compare_with_previous(contributor, line),
    }
    return render(request, "attribution/statement.html", context)


@contributor_required
def download_statement(
    request: HttpRequest, contributor: Contributor, round_id: int
) -> HttpResponse:
    """The statement as a one-row CSV; text cells are escaped against formula injection."""
    statement = build_statement(_credit_or_404(contributor, round_id))
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="statement-round-{round_id}.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    writer.writerow(
        csv_safe(cell) if isinstance(cell, str) and index in _TEXT_COLUMNS else cell
        for index, cell in enumerate(statement.csv_row())
    )
    return response


_TEXT_COLUMNS = frozenset(
    CSV_COLUMNS.index(name) for name in ("round", "metric", "method", "currency")
)


def _credit_or_404(contributor: Contributor, round_id: int) -> CreditLine:
    line = find_credit(contributor, round_id)
    if line is None:
        raise Http404("No succeeded round of yours has this number.")
    return line
