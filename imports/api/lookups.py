"""Finding what an API path names, for the caller: a batch id that is not one, or a job the caller may not see,
is the same 404 as one that does not exist."""

from __future__ import annotations

import uuid

from importhub.errors import ImportHubError, NotFound

from ..models import ImportJob
from ..selectors import jobs_visible


def batch_uuid(batch_id) -> uuid.UUID:
    try:
        return uuid.UUID(str(batch_id))
    except ValueError:
        raise NotFound("Job not found.") from None


def file_job_get(request, batch_id, job_id: int, *, related: tuple[str, ...] = ()) -> ImportJob:
    """The job of one file of a batch, if the caller may see it; else a 404."""
    jobs = jobs_visible(request.user).filter(batch_id=batch_uuid(batch_id), pk=job_id)
    job = jobs.select_related(*related).first() if related else jobs.first()
    if job is None:
        raise NotFound("Job not found.")
    return job


class BodyNotObject(ImportHubError):
    code = "invalid_body"


def body_options(request):
    """An action's JSON options: an object, or nothing (no body, or `null`); a list, string or number is a 400."""
    data = request.data
    if data is None:
        return {}
    if not hasattr(data, "get"):
        raise BodyNotObject(
            f'The body must be a JSON object such as {{"force": true}}, or empty; got {type(data).__name__}.',
            details={"field": "body"},
        )
    return data
