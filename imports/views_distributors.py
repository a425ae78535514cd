"""The distributors page: who sends files, what they owe and when, their contacts and latest upload."""

from __future__ import annotations

from django.shortcuts import render

from .services.distributors import distributor_obligations_text, distributors_listed
from .views import _page_permission

can_view_distributors = _page_permission(
    lambda user: user.has_perm("imports.view_distributor"),
    "You do not have permission to see the distributors (imports.view_distributor).",
)


@can_view_distributors
def distributor_list(request):
    rows = [{"distributor": d, "obligations": distributor_obligations_text(d)} for d in distributors_listed()]
    return render(request, "imports/distributor_list.html", {"rows": rows})
