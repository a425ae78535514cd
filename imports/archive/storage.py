"""Where archived files go: Google Drive (the only module that imports googleapiclient) or a local folder.

Both stores work in two steps so that a re-tried task never makes a second copy: `reserve` names the file
(Drive's `files.generateIds`, or a free local path), the caller records that name on the job, then `store`
puts the file there; storing again under a name that already holds the file counts as done.
"""

from __future__ import annotations

import datetime as dt
import errno
import filecmp
import json
import logging
import mimetypes
import os
import random
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httplib2
from django.conf import settings
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2 import service_account
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaFileUpload

from importhub.errors import ImportHubError

from ..models import ImportJob
from ..services.intake import file_name_safe

logger = logging.getLogger(__name__)

SCOPES = ["https://www.googleapis.com/auth/drive"]
FOLDER_MIMETYPE = "application/vnd.google-apps.folder"
DRIVE_FILE_URL = "https://drive.google.com/file/d/{file_id}/view"
SUBFOLDER_MODES = ("none", "table", "month")
# Drive takes resumable chunks in multiples of 256 KiB (only the last one may be shorter).
CHUNK_UNIT = 256 * 1024
NO_TABLE = "unmatched"
RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
ALREADY_EXISTS_REASONS = {"duplicate", "alreadyExists"}

# File names (one path part) on the usual file systems (ext4, XFS, NTFS, APFS) hold at most 255 bytes.
MAX_NAME_BYTES = 255
# A longer "extension" is part of the name: `minutes.<300 characters>` has none worth keeping.
MAX_EXTENSION_BYTES = 32
# A local file id is the path under ARCHIVE_DIR, stored on the job: at most this many characters.
FILE_ID_MAX_CHARS = ImportJob._meta.get_field("archive_file_id").max_length
RETRY_HINT = 'then run `manage.py archive_retry` (or the admin action "Retry archive of the selected files").'
# Errors of the local archive that trying again cannot mend: someone must change something first.
PERMANENT_ERRORS = {
    errno.ENAMETOOLONG: (
        "archive_name_too_long",
        "The name or the path is too long for the file system of ARCHIVE_DIR: set ARCHIVE_DIR to a shorter "
        "path on a file system that takes 255-byte names, " + RETRY_HINT,
    ),
    errno.EACCES: (
        "archive_not_writable",
        "The worker may not write there: give the user the worker runs as write access to ARCHIVE_DIR (or "
        "set ARCHIVE_DIR to a folder it may write), " + RETRY_HINT,
    ),
    errno.EPERM: (
        "archive_not_writable",
        "The worker may not write there: give the user the worker runs as write access to ARCHIVE_DIR (or "
        "set ARCHIVE_DIR to a folder it may write), " + RETRY_HINT,
    ),
    errno.EROFS: (
        "archive_read_only",
        "ARCHIVE_DIR is on a read-only file system: mount it read-write or set ARCHIVE_DIR to a writable "
        "folder, " + RETRY_HINT,
    ),
    errno.ENOSPC: (
        "archive_full",
        "The disk of ARCHIVE_DIR is full: free space there (or set ARCHIVE_DIR to a bigger disk), "
        + RETRY_HINT,
    ),
    errno.EDQUOT: (
        "archive_quota",
        "The disk quota of the worker's user on ARCHIVE_DIR is used up: free space or raise the quota, "
        + RETRY_HINT,
    ),
    errno.ENOTDIR: (
        "archive_not_a_folder",
        "A part of the archive path is a file, not a folder: set ARCHIVE_DIR to a folder (or move that file "
        "away), " + RETRY_HINT,
    ),
}

# Sub-folder ids by (parent, name), per worker process: each folder is looked up or created once.
_folders: dict[tuple[str, str, str], str] = {}


class ArchiveError(ImportHubError):
    """Archiving did not work; `transient` says whether trying again later may."""

    code = "archive_failed"

    def __init__(self, message: str, *, transient: bool, code: str | None = None):
        super().__init__(message, code=code)
        self.transient = transient


@dataclass(frozen=True)
class ArchivedFile:
    file_id: str
    url: str = ""


class ArchiveStore(Protocol):
    kind: str

    def owns(self, file_id: str) -> bool: ...

    def reserve(self, *, name: str, table: str, when: dt.datetime) -> str: ...

    def store(
        self, *, source: Path, file_id: str, name: str, table: str, when: dt.datetime
    ) -> ArchivedFile: ...


def archive_name(*, dist_id: str, original_name: str) -> str:
    """'<dist_id>_<original name>' ("distributor_file"), or the original name when there is no dist_id;
    shortened to MAX_NAME_BYTES (see `name_fitted`)."""
    name = file_name_safe(original_name) or "file"
    dist_id = file_name_safe(dist_id)
    return name_fitted(f"{dist_id}_{name}" if dist_id else name)


def name_fitted(
    name: str, *, tail: str = "", limit: int = MAX_NAME_BYTES, max_chars: int | None = None
) -> str:
    """`name` with `tail` (a clash's `-2`) before its extension, in at most `limit` bytes of UTF-8 (and at
    most `max_chars` characters, when given).

    The end of the name is cut, on a character boundary: its start (the `<dist_id>_` prefix) and its
    extension stay, so the archived file still opens with the right program.
    """
    stem, extension = _name_split(name)
    room = limit - len(f"{tail}{extension}".encode())
    stem = stem.encode()[: max(room, 0)].decode("utf-8", "ignore")
    if max_chars is not None:
        stem = stem[: max(max_chars - len(tail) - len(extension), 1)]
    return f"{stem.rstrip() or 'file'}{tail}{extension}"


def _name_split(name: str) -> tuple[str, str]:
    extension = Path(name).suffix
    if not extension or len(extension.encode()) > MAX_EXTENSION_BYTES:
        return name, ""
    return name[: -len(extension)], extension


def drive_configured() -> bool:
    return bool(settings.GDRIVE_CREDENTIALS or settings.GDRIVE_CREDENTIALS_JSON)


def archive_store() -> ArchiveStore:
    """Google Drive when its credentials are set, else the local archive folder."""
    if not drive_configured():
        return LocalArchive(root=Path(settings.ARCHIVE_DIR))
    if not settings.GDRIVE_FOLDER_ID:
        raise ArchiveError(
            "Google Drive credentials are set but GDRIVE_FOLDER_ID is empty: set it to the id of the Drive "
            "folder that receives the files (the last part of the folder's address).",
            transient=False,
            code="drive_config",
        )
    if settings.GDRIVE_SUBFOLDERS not in SUBFOLDER_MODES:
        raise ArchiveError(
            f"GDRIVE_SUBFOLDERS is '{settings.GDRIVE_SUBFOLDERS}': use one of {', '.join(SUBFOLDER_MODES)}.",
            transient=False,
            code="drive_config",
        )
    if settings.GDRIVE_CA_CERTS and not Path(settings.GDRIVE_CA_CERTS).is_file():
        raise ArchiveError(
            f"GDRIVE_CA_CERTS is '{settings.GDRIVE_CA_CERTS}', which is not a file: give the path of a PEM CA "
            "bundle, or leave it empty.",
            transient=False,
            code="drive_config",
        )
    credentials = drive_credentials()
    return DriveArchive(
        folder_id=settings.GDRIVE_FOLDER_ID,
        subfolders=settings.GDRIVE_SUBFOLDERS,
        http=drive_http(credentials),
        account=credentials.service_account_email,
        impersonate=settings.GDRIVE_IMPERSONATE,
    )


# --- Local archive -------------------------------------------------------------------------------


class LocalArchive:
    """ARCHIVE_DIR/<table>/<yyyy>/<mm>/<name>; a name already taken gets a -2, -3... suffix, never overwritten
    (and still fits in MAX_NAME_BYTES)."""

    kind = "local"

    def __init__(self, *, root: Path):
        self.root = Path(root)

    def owns(self, file_id: str) -> bool:
        return "/" in file_id

    def reserve(self, *, name: str, table: str, when: dt.datetime) -> str:
        folder = Path(file_name_safe(table) or NO_TABLE, f"{when:%Y}", f"{when:%m}")
        try:
            return self._free(folder, name).as_posix()
        except OSError as exc:
            raise self.write_error(folder / name, exc) from exc

    def store(self, *, source: Path, file_id: str, name: str, table: str, when: dt.datetime) -> ArchivedFile:
        relative = Path(file_id)
        try:
            while True:
                target = self.root / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    _place(source, target)
                    break
                except FileExistsError:
                    if _same_file(source, target):
                        break  # an earlier attempt of this job got this far
                    relative = self._free(relative.parent, name)  # another file took the name meanwhile
        except OSError as exc:
            raise self.write_error(relative, exc) from exc
        return ArchivedFile(file_id=relative.as_posix())

    def write_error(self, relative: Path, exc: OSError) -> ArchiveError:
        """Permanent (a name, a permission, a full disk: say what to do) or transient (tried again later)."""
        text = f"Cannot write {relative.as_posix()} in the archive folder {self.root}: {exc}"
        permanent = PERMANENT_ERRORS.get(exc.errno)
        if permanent is None:
            return ArchiveError(f"{text}.", transient=True, code="archive_write")
        code, advice = permanent
        return ArchiveError(f"{text}. {advice}", transient=False, code=code)

    def path(self, file_id: str) -> Path | None:
        """The archived file for a local file id, if it is there (and inside the archive folder)."""
        if not self.owns(file_id):
            return None
        root = self.root.resolve()
        path = (root / file_id).resolve()
        return path if path.is_relative_to(root) and path.is_file() else None

    def _free(self, folder: Path, name: str) -> Path:
        # The file id (<table>/<yyyy>/<mm>/<name>) is stored on the job: it must fit that column too.
        max_chars = FILE_ID_MAX_CHARS - len(folder.as_posix()) - 1
        candidate = folder / name_fitted(name, max_chars=max_chars)
        number = 1
        while (self.root / candidate).exists():
            number += 1
            candidate = folder / name_fitted(name, tail=f"-{number}", max_chars=max_chars)
        return candidate


def _place(source: Path, target: Path) -> None:
    """A copy of `source` at `target`, never overwriting: FileExistsError when the name is taken."""
    try:
        os.link(source, target)  # same file system: instant, atomic, and refuses an existing target
        return
    except FileExistsError:
        raise
    except OSError:
        pass  # another file system, or one without hard links: copy beside the target, then put it in place
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial")
    try:
        shutil.copyfile(source, partial)
        try:
            os.link(partial, target)
        except FileExistsError:
            raise
        except OSError:
            if target.exists():
                raise FileExistsError(target) from None
            os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b) or filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


# --- Google Drive --------------------------------------------------------------------------------


def drive_credentials() -> service_account.Credentials:
    """The service account from GDRIVE_CREDENTIALS_JSON or the GDRIVE_CREDENTIALS file, acting as
    GDRIVE_IMPERSONATE when set (domain-wide delegation)."""
    if settings.GDRIVE_CREDENTIALS_JSON:
        source = "GDRIVE_CREDENTIALS_JSON"
    else:
        source = f"GDRIVE_CREDENTIALS ({_credentials_path()})"
    try:
        if settings.GDRIVE_CREDENTIALS_JSON:
            info = json.loads(settings.GDRIVE_CREDENTIALS_JSON)
            credentials = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
        else:
            credentials = service_account.Credentials.from_service_account_file(
                str(_credentials_path()), scopes=SCOPES
            )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ArchiveError(
            f"Cannot read the Google service-account key from {source}: {exc}. Use the JSON key file "
            "downloaded from Google Cloud (IAM > Service accounts > Keys).",
            transient=False,
            code="drive_credentials",
        ) from exc
    if settings.GDRIVE_IMPERSONATE:
        credentials = credentials.with_subject(settings.GDRIVE_IMPERSONATE)
    return credentials


def _credentials_path() -> Path:
    path = Path(settings.GDRIVE_CREDENTIALS)
    return path if path.is_absolute() else Path(settings.BASE_DIR) / path


def drive_http(credentials) -> AuthorizedHttp:
    """An authorised HTTP client with our timeout and, when set, our CA bundle (GDRIVE_CA_CERTS)."""
    http = httplib2.Http(timeout=settings.GDRIVE_TIMEOUT, ca_certs=settings.GDRIVE_CA_CERTS or None)
    # As googleapiclient's own build_http(): in a resumable upload 308 means "resume incomplete", not a redirect.
    http.redirect_codes = http.redirect_codes - {308}
    return AuthorizedHttp(credentials, http=http)


class DriveArchive:
    """Files in GDRIVE_FOLDER_ID (optionally a sub-folder per table or month), uploaded resumably in chunks."""

    kind = "drive"

    def __init__(
        self,
        *,
        folder_id: str,
        subfolders: str = "none",
        http,
        account: str = "",
        impersonate: str = "",
        num_retries: int | None = None,
        chunk_size: int | None = None,
    ):
        self.folder_id = folder_id
        self.subfolders = subfolders
        self.account = account
        self.impersonate = impersonate
        self.num_retries = settings.GDRIVE_NUM_RETRIES if num_retries is None else num_retries
        chunk_size = chunk_size or settings.GDRIVE_CHUNK_SIZE
        self.chunk_size = max(1, -(-chunk_size // CHUNK_UNIT)) * CHUNK_UNIT
        self.files = build(
            "drive",
            "v3",
            http=http,
            static_discovery=True,
            cache_discovery=False,
            client_options={"api_endpoint": settings.GDRIVE_API_ENDPOINT}
            if settings.GDRIVE_API_ENDPOINT
            else None,
        ).files()

    def owns(self, file_id: str) -> bool:
        return "/" not in file_id

    def reserve(self, *, name: str, table: str, when: dt.datetime) -> str:
        # files.generateIds takes no supportsAllDrives (it is not in the Drive v3 API for this method).
        answer = self._execute(self.files.generateIds(count=1, space="drive"), doing="get a new file id")
        return answer["ids"][0]

    def store(self, *, source: Path, file_id: str, name: str, table: str, when: dt.datetime) -> ArchivedFile:
        parent = self._folder(table=table, when=when)
        media = MediaFileUpload(
            str(source),
            mimetype=mimetypes.guess_type(name)[0] or "application/octet-stream",
            chunksize=self.chunk_size,
            resumable=True,
        )
        request = self.files.create(
            body={"id": file_id, "name": name, "parents": [parent]},
            media_body=media,
            fields="id",
            supportsAllDrives=True,
        )
        doing = f"upload {name}"
        try:
            with _drive_errors(self, doing):
                try:
                    answer = self._upload(request)
                except HttpError as exc:
                    if _already_exists(exc):
                        # The id is ours and Drive makes the file only once it is complete: an earlier attempt
                        # of this job finished the upload.
                        logger.info("Drive file %s already exists: archived by an earlier attempt", file_id)
                        return ArchivedFile(file_id=file_id, url=DRIVE_FILE_URL.format(file_id=file_id))
                    if exc.resp.status == 404 and parent != self.folder_id:
                        # The sub-folder went since it was looked up: the next attempt looks for it again.
                        _folders.pop(self._folder_key(table=table, when=when), None)
                        raise ArchiveError(
                            f"The Drive sub-folder for {name} is gone; it is made again on the next attempt.",
                            transient=True,
                        ) from exc
                    raise
        finally:
            media.stream().close()
        file_id = answer.get("id", file_id)
        return ArchivedFile(file_id=file_id, url=DRIVE_FILE_URL.format(file_id=file_id))

    def _upload(self, request) -> dict:
        answer = None
        drops = 0
        while answer is None:
            try:
                _progress, answer = request.next_chunk(num_retries=self.num_retries)
            except (OSError, httplib2.HttpLib2Error) as exc:
                # A dropped connection: the next call asks Drive how much it has and goes on from there.
                drops += 1
                if drops > self.num_retries:
                    raise
                logger.warning(
                    "Upload connection lost (%s); resuming (%d of %d)", exc, drops, self.num_retries
                )
                if drops > 1:
                    time.sleep(random.random() * 2 ** min(drops, 6))
        return answer

    def _folder(self, *, table: str, when: dt.datetime) -> str:
        key = self._folder_key(table=table, when=when)
        if key is None:
            return self.folder_id
        if key not in _folders:
            _folders[key] = self._folder_find(key[-1]) or self._folder_create(key[-1])
        return _folders[key]

    def _folder_key(self, *, table: str, when: dt.datetime) -> tuple[str, str, str] | None:
        if self.subfolders == "table":
            name = file_name_safe(table) or NO_TABLE
        elif self.subfolders == "month":
            name = f"{when:%Y-%m}"
        else:
            return None
        return (settings.GDRIVE_API_ENDPOINT, self.folder_id, name)

    def _folder_find(self, name: str) -> str | None:
        quoted = name.replace("\\", "\\\\").replace("'", "\\'")
        query = (
            f"'{self.folder_id}' in parents and name = '{quoted}' and mimeType = '{FOLDER_MIMETYPE}' "
            "and trashed = false"
        )
        answer = self._execute(
            self.files.list(
                q=query,
                fields="files(id)",
                orderBy="createdTime",
                pageSize=1,
                corpora="allDrives",
                includeItemsFromAllDrives=True,
                supportsAllDrives=True,
            ),
            doing=f"find the sub-folder {name}",
        )
        found = answer.get("files") or []
        return found[0]["id"] if found else None

    def _folder_create(self, name: str) -> str:
        answer = self._execute(
            self.files.create(
                body={"name": name, "mimeType": FOLDER_MIMETYPE, "parents": [self.folder_id]},
                fields="id",
                supportsAllDrives=True,
            ),
            doing=f"create the sub-folder {name}",
        )
        return answer["id"]

    def _execute(self, request, *, doing: str) -> dict:
        with _drive_errors(self, doing):
            return request.execute(num_retries=self.num_retries)


@contextmanager
def _drive_errors(drive: DriveArchive, doing: str) -> Iterator[None]:
    """Turn what the client library raises (after its own retries) into an ArchiveError that says what to do."""
    try:
        yield
    except HttpError as exc:
        raise _http_error(exc, drive=drive, doing=doing) from exc
    except RefreshError as exc:
        raise _refresh_error(exc, drive=drive) from exc
    except (OSError, httplib2.HttpLib2Error, TransportError) as exc:
        raise ArchiveError(
            f"Cannot reach Google Drive to {doing} ({type(exc).__name__}: {exc}).",
            transient=True,
            code="drive_unreachable",
        ) from exc


def _error_reasons(exc: HttpError) -> tuple[set[str], str]:
    try:
        error = json.loads(exc.content.decode("utf-8"))["error"]
        reasons = {e.get("reason", "") for e in error.get("errors", []) if isinstance(e, dict)}
        return reasons - {""}, str(error.get("message", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return set(), exc.reason or ""


def _already_exists(exc: HttpError) -> bool:
    reasons, message = _error_reasons(exc)
    return (
        exc.resp.status == 409
        or bool(reasons & ALREADY_EXISTS_REASONS)
        or "already exists" in message.lower()
    )


def _http_error(exc: HttpError, *, drive: DriveArchive, doing: str) -> ArchiveError:
    status = exc.resp.status
    reasons, message = _error_reasons(exc)
    answered = f"Google Drive answered {status}{' ' + ', '.join(sorted(reasons)) if reasons else ''}"
    account = f" ({drive.account})" if drive.account else ""
    if "storageQuotaExceeded" in reasons:
        if drive.impersonate:
            text = (
                f"{answered} when trying to {doing}: the storage of {drive.impersonate} (GDRIVE_IMPERSONATE) "
                "is full. Free space in that account, or put GDRIVE_FOLDER_ID in a Shared Drive."
            )
        else:
            text = (
                f"{answered} when trying to {doing}: a service account has no storage of its own, so it cannot "
                "own files in a normal My Drive folder. Use a folder in a Shared Drive and add the service "
                f"account{account} to that Shared Drive as a member (Content manager), or set "
                "GDRIVE_IMPERSONATE to a user it may act for (domain-wide delegation). See 'Google Drive "
                "set-up' in the README."
            )
        return ArchiveError(text, transient=False, code="drive_storage_quota")
    transient = status == 429 or status >= 500 or (status == 403 and bool(reasons & RATE_LIMIT_REASONS))
    text = f"{answered} when trying to {doing}: {message or exc.reason}"
    if status == 404:
        text += (
            f". Check GDRIVE_FOLDER_ID ({drive.folder_id}) and that the service account{account} is a member "
            "of its Shared Drive."
        )
    elif status in (401, 403) and not transient:
        text += f". Check that the service account{account} may add files to the folder."
    elif transient:
        text += " (still failing after the client's retries)."
    return ArchiveError(text, transient=transient, code="drive_error")


def _refresh_error(exc: RefreshError, *, drive: DriveArchive) -> ArchiveError:
    text = f"Google refused the service account's sign-in: {exc}."
    if drive.impersonate:
        text += (
            f" To act as {drive.impersonate}, the service account's client id needs domain-wide delegation "
            "for the scope https://www.googleapis.com/auth/drive (Google Admin console > Security > Access "
            "and data control > API controls)."
        )
    else:
        text += " Check that the key in GDRIVE_CREDENTIALS is current (not deleted or disabled)."
    return ArchiveError(text, transient=bool(getattr(exc, "retryable", False)), code="drive_credentials")
