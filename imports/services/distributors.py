"""Distributors as records: their rules (one place for the API, the admin and the pages), and which
distributor an upload's `dist_id` names, under the DISTRIBUTORS_REQUIRED rule.

A distributor's fields as every front end sends them: `code`, `name`, `is_active`, `contact_emails` (a list
of addresses), `tables` (import table names), `cadence` (daily, weekly, monthly), `due_day` (monthly: 1-28,
the day of the following month; weekly: 1-7, Monday first, the weekday of the following week; daily: not
used, stored as 1) and `obligations_from` (a date or None).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet

from importhub.errors import ImportHubError
from tableconfig.models import ImportTable

from ..models import Cadence, Distributor

FIELDS = ("code", "name", "is_active", "contact_emails", "tables", "cadence", "due_day", "obligations_from")
CODE_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,50}")
NAME_MAX = Distributor._meta.get_field("name").max_length
# The due day a distributor gets when none is given: the 10th of the following month, Monday, the next day.
DEFAULT_DUE_DAY = {Cadence.MONTHLY: 10, Cadence.WEEKLY: 1, Cadence.DAILY: 1}
DUE_DAY_RANGE = {Cadence.MONTHLY: (1, 28), Cadence.WEEKLY: (1, 7)}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class DistributorInvalid(ImportHubError):
    """A distributor's field that cannot be accepted; `details["field"]` names it."""

    code = "invalid_distributor"

    def __init__(self, field: str, message: str, *, code: str):
        super().__init__(f"{field}: {message}", code=code, details={"field": field})
        self.field = field


class DistributorRefused(ImportHubError):
    """An upload whose dist_id the distributor rule refuses: nothing of it is stored."""

    code = "unknown_distributor"
    http_status = 400


@dataclass
class DistributorValues:
    """A distributor's fields as checked: what saving writes."""

    code: str
    name: str
    is_active: bool
    contact_emails: list[str]
    tables: list[ImportTable]
    cadence: str
    due_day: int
    obligations_from: dt.date | None


def _code_clean(value, *, instance: Distributor | None) -> str:
    code = value.strip() if isinstance(value, str) else ""
    if not code:
        raise DistributorInvalid("code", "required: the code uploads carry as dist_id.", code="code_required")
    if not CODE_PATTERN.fullmatch(code):
        raise DistributorInvalid(
            "code",
            f"'{code[:60]}' is not a code: 1 to 50 letters, digits, '-', '_' or '.'.",
            code="invalid_code",
        )
    # Case-insensitive on every database: MariaDB's collation would treat 'ab' and 'AB' as one code anyway.
    taken = Distributor.objects.filter(code__iexact=code)
    if instance is not None and instance.pk:
        taken = taken.exclude(pk=instance.pk)
    other = taken.first()
    if other is not None:
        raise DistributorInvalid(
            "code", f"'{code}' is already the code of {other.name or other.code}.", code="duplicate_code"
        )
    return code


def _name_clean(value) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name:
        raise DistributorInvalid("name", "required.", code="name_required")
    if len(name) > NAME_MAX:
        raise DistributorInvalid("name", f"{len(name)} characters, at most {NAME_MAX}.", code="name_too_long")
    return name


def _emails_clean(value) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise DistributorInvalid(
            "contact_emails", "a list of e-mail addresses is expected.", code="invalid_emails"
        )
    emails: list[str] = []
    for raw in value:
        email = raw.strip()
        if not email:
            continue
        try:
            validate_email(email)
        except ValidationError:
            raise DistributorInvalid(
                "contact_emails", f"'{email[:100]}' is not a valid e-mail address.", code="invalid_email"
            ) from None
        if email.lower() not in {e.lower() for e in emails}:
            emails.append(email)
    return emails


def _tables_clean(value) -> list[ImportTable]:
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise DistributorInvalid("tables", "a list of import table names is expected.", code="invalid_tables")
    names = list(dict.fromkeys(v.strip() for v in value if v.strip()))
    found = {t.table_name: t for t in ImportTable.objects.filter(table_name__in=names)}
    unknown = [n for n in names if n not in found]
    if unknown:
        listed = ", ".join(f"'{n[:63]}'" for n in unknown)
        raise DistributorInvalid(
            "tables",
            f"no import table named {listed}; the configured tables are listed at /api/tables.",
            code="unknown_table",
        )
    return [found[n] for n in names]


def _cadence_clean(value) -> str:
    if value not in Cadence.values:
        shown = str(value)[:40] if value is not None else ""
        raise DistributorInvalid(
            "cadence", f"'{shown}' is not a cadence; use daily, weekly or monthly.", code="invalid_cadence"
        )
    return value


def _due_day_clean(value, *, cadence: str) -> int:
    if cadence == Cadence.DAILY:
        return 1  # a daily obligation is due the next day: there is no day to choose
    if value is None or value == "":
        return DEFAULT_DUE_DAY[cadence]
    low, high = DUE_DAY_RANGE[cadence]
    meaning = "the day of the following month" if cadence == Cadence.MONTHLY else "1 = Monday ... 7 = Sunday"
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DistributorInvalid(
            "due_day",
            f"{str(value)[:20]} is not a due day for a {cadence} cadence: from {low} to {high} ({meaning}).",
            code="invalid_due_day",
        )
    return value


def _date_clean(value) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    raise DistributorInvalid("obligations_from", "a date (2026-01-01) is expected.", code="invalid_date")


def distributor_check(*, data: Mapping, instance: Distributor | None = None) -> DistributorValues:
    """Check a distributor's fields as they would be saved: `data` holds the new values, and the instance
    (when changing one) every value not given. Raises DistributorInvalid naming the first field refused."""
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise DistributorInvalid(unknown[0], "not a distributor field.", code="unknown_field")

    def current(name: str, default):
        if name in data:
            return data[name]
        if instance is not None and instance.pk:
            if name == "tables":
                return [t.table_name for t in instance.tables.all()]
            return getattr(instance, name)
        return default

    cadence = _cadence_clean(current("cadence", Cadence.MONTHLY))
    due_day = current("due_day", None)
    if "due_day" not in data and "cadence" in data and instance is not None and instance.pk:
        # A new cadence without a due day: keep the old day when it fits the new cadence.
        low, high = DUE_DAY_RANGE.get(cadence, (1, 1))
        due_day = due_day if isinstance(due_day, int) and low <= due_day <= high else None
    is_active = current("is_active", True)
    if not isinstance(is_active, bool):
        raise DistributorInvalid("is_active", "true or false is expected.", code="invalid_boolean")
    return DistributorValues(
        code=_code_clean(current("code", ""), instance=instance),
        name=_name_clean(current("name", "")),
        is_active=is_active,
        contact_emails=_emails_clean(current("contact_emails", [])),
        tables=_tables_clean(current("tables", [])),
        cadence=cadence,
        due_day=_due_day_clean(due_day, cadence=cadence),
        obligations_from=_date_clean(current("obligations_from", None)),
    )


def _values_save(distributor: Distributor, values: DistributorValues) -> Distributor:
    for name in FIELDS:
        if name != "tables":
            setattr(distributor, name, getattr(values, name))
    try:
        with transaction.atomic():
            distributor.save()
            distributor.tables.set(values.tables)
    except IntegrityError:
        # Another request took the code between the check and the save.
        raise DistributorInvalid(
            "code", f"'{values.code}' is already the code of another distributor.", code="duplicate_code"
        ) from None
    return distributor


def distributor_create(
    *,
    code: str,
    name: str,
    is_active: bool = True,
    contact_emails: list[str] | None = None,
    tables: list[str] | None = None,
    cadence: str = Cadence.MONTHLY,
    due_day: int | None = None,
    obligations_from: dt.date | None = None,
) -> Distributor:
    """Add a distributor after checking every field (DistributorInvalid names the one refused)."""
    values = distributor_check(
        data={
            "code": code,
            "name": name,
            "is_active": is_active,
            "contact_emails": contact_emails or [],
            "tables": tables or [],
            "cadence": cadence,
            "due_day": due_day,
            "obligations_from": obligations_from,
        }
    )
    return _values_save(Distributor(), values)


def distributor_update(*, distributor: Distributor, **changes) -> Distributor:
    """Change any of a distributor's fields (FIELDS); the others keep their values. Checked as a whole."""
    values = distributor_check(data=changes, instance=distributor)
    return _values_save(distributor, values)


def distributors_required() -> bool:
    """DISTRIBUTORS_REQUIRED: on (always), off (never) or auto (once any distributor exists)."""
    rule = settings.DISTRIBUTORS_REQUIRED
    if rule == "on":
        return True
    if rule == "off":
        return False
    return Distributor.objects.exists()


def distributor_for_upload(*, dist_id: str) -> Distributor | None:
    """The distributor an upload's dist_id names, or None when none is required and none matches.

    While distributors are required (DISTRIBUTORS_REQUIRED) an empty dist_id, an unknown code and an inactive
    distributor are refused with DistributorRefused (codes dist_id_required, unknown_distributor,
    inactive_distributor). When they are not required, a matching code is still linked."""
    dist_id = (dist_id or "").strip()
    required = distributors_required()
    if not dist_id:
        if required:
            raise DistributorRefused(
                "dist_id is required: every upload must name its distributor by its code. Enter the code "
                "an administrator gave the distributor.",
                code="dist_id_required",
                details={"field": "dist_id"},
            )
        return None
    # Exact on every database (MariaDB's collation would also match another case).
    distributor = next((d for d in Distributor.objects.filter(code=dist_id) if d.code == dist_id), None)
    if distributor is None:
        if required:
            raise DistributorRefused(
                f"dist_id '{dist_id}' matches no distributor; ask an administrator to add it, or check the "
                "code.",
                code="unknown_distributor",
                details={"field": "dist_id"},
            )
        return None
    if not distributor.is_active and required:
        raise DistributorRefused(
            f"dist_id '{dist_id}' is the distributor {distributor.name}, which is inactive: its uploads are "
            "refused until an administrator makes it active again.",
            code="inactive_distributor",
            details={"field": "dist_id"},
        )
    return distributor


def distributor_due_text(*, cadence: str, due_day: int) -> str:
    """When a period's files are due, in words: "due day 10 of the following month"."""
    if cadence == Cadence.MONTHLY:
        return f"due day {due_day} of the following month"
    if cadence == Cadence.WEEKLY:
        return f"due {WEEKDAYS[due_day - 1] if 1 <= due_day <= 7 else due_day} of the following week"
    return "due the next day"


def distributor_obligations_text(distributor: Distributor) -> str:
    """What a distributor owes, in words: "sales, stocks - monthly, due day 10 of the following month"."""
    names = sorted(t.table_name for t in distributor.tables.all())
    due = f"{distributor.cadence}, {distributor_due_text(cadence=distributor.cadence, due_day=distributor.due_day)}"
    return f"{', '.join(names)} - {due}" if names else f"nothing ({due})"


def distributors_listed() -> QuerySet[Distributor]:
    """Every distributor with its tables and the time of its latest batch (`last_upload_at`)."""
    return (
        Distributor.objects.prefetch_related("tables")
        .annotate(last_upload_at=Max("batches__created_at"))
        .order_by("code")
    )
