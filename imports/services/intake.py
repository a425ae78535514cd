"""Take uploads into a batch folder: store them under server-made names and unpack ZIPs safely."""

import hashlib
import logging
import re
import stat
import uuid
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from importhub.errors import LimitExceeded

from .workbooks import WORKBOOK_EXTENSIONS, ZIP_WORKBOOK_EXTENSIONS

logger = logging.getLogger(__name__)

DATA_EXTENSIONS = frozenset({".csv", ".txt", *WORKBOOK_EXTENSIONS})
COPY_BYTES = 1024 * 1024
_SAFE_EXTENSION_RE = re.compile(r"^\.[a-z0-9]{1,10}$")
_DRIVE_RE = re.compile(r"^[a-zA-Z]:")
_LOCAL_HEADER_BYTES = 30


@dataclass(frozen=True)
class IntakeLimits:
    zip_max_members: int = 1000
    zip_max_total_bytes: int = 2 * 1024**3
    zip_max_ratio: int = 200
    max_file_bytes: int = 1024**3
    # What the job keeps of a file's name: its base name, and "<zip>:<member path>" for a ZIP member.
    name_max_chars: int = 255
    source_max_chars: int = 500


@dataclass
class IntakeFile:
    original_name: str
    stored_path: Path
    source_name: str
    size: int
    sha256: str = ""  # of the bytes as stored: hashed while they were written


@dataclass
class IntakeResult:
    files: list[IntakeFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class _MemberRefused(Exception):
    """A ZIP member found unacceptable while it was being extracted."""


def upload_store(
    *, batch_dir: Path, original_name: str, chunks: Iterable[bytes], limits: IntakeLimits
) -> Path:
    """Write an upload to a new server-named file in `batch_dir`, enforcing the per-file size limit."""
    return upload_store_hashed(
        batch_dir=batch_dir, original_name=original_name, chunks=chunks, limits=limits
    ).path


@dataclass(frozen=True)
class StoredUpload:
    path: Path
    sha256: str


def upload_store_hashed(
    *, batch_dir: Path, original_name: str, chunks: Iterable[bytes], limits: IntakeLimits
) -> StoredUpload:
    """upload_store, with the SHA-256 of the bytes taken while they are written (no second read)."""
    name = file_name_safe(original_name)
    digest = hashlib.sha256()
    batch_dir.mkdir(parents=True, exist_ok=True)
    target = _target_path(batch_dir=batch_dir, name=name)
    written = 0
    try:
        with target.open("xb") as out:
            for chunk in chunks:
                written += len(chunk)
                if written > limits.max_file_bytes:
                    raise LimitExceeded(
                        f"{name} is larger than the limit of {_size_text(limits.max_file_bytes)} per file.",
                        details={"limit": "max_file_bytes", "bytes": limits.max_file_bytes},
                    )
                out.write(chunk)
                digest.update(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    logger.info("Stored upload %s as %s (%d bytes)", name, target.name, written)
    return StoredUpload(path=target, sha256=digest.hexdigest())


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file already on disk, read in blocks (for uploads stored without upload_store_hashed)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(COPY_BYTES):
            digest.update(block)
    return digest.hexdigest()


def files_intake(
    *, batch_dir: Path, uploads: list[tuple[str, Path] | tuple[str, Path, str]], limits: IntakeLimits
) -> IntakeResult:
    """Turn stored uploads into the data files to import: keep CSV/TXT, unpack ZIPs, skip the rest with a warning.

    Each upload is (name, path) or (name, path, its SHA-256 from upload_store_hashed); every file kept carries
    its SHA-256 (a ZIP member's taken while it is extracted; a plain file's read once here only when not given)."""
    result = IntakeResult()
    for original_name, stored_path, *known in uploads:
        name = file_name_safe(original_name)
        extension = _extension(name)
        if extension == ".zip":
            try:
                _zip_extract(batch_dir=batch_dir, name=name, path=stored_path, limits=limits, result=result)
            finally:
                stored_path.unlink(missing_ok=True)
            continue
        if extension not in DATA_EXTENSIONS:
            _warn(result, f"{name}: Unsupported file type '{extension or '(none)'}'. Skipped.")
            stored_path.unlink(missing_ok=True)
            continue
        if len(name) > limits.name_max_chars:
            _warn(result, f"{_shown(name)}: {_name_too_long(name, limits)}. Skipped.")
            stored_path.unlink(missing_ok=True)
            continue
        size = stored_path.stat().st_size
        if size > limits.max_file_bytes:
            _warn(result, f"{name}: {_over_file_limit(size, limits)}. Skipped.")
            stored_path.unlink(missing_ok=True)
            continue
        problem = workbook_zip_problem(path=stored_path, name=name, limits=limits)
        if problem:
            _warn(result, f"{name}: {problem}. Skipped.")
            stored_path.unlink(missing_ok=True)
            continue
        result.files.append(
            IntakeFile(
                original_name=name,
                stored_path=stored_path,
                source_name=name,
                size=size,
                sha256=known[0] if known else file_sha256(stored_path),
            )
        )
    return result


def _zip_extract(
    *, batch_dir: Path, name: str, path: Path, limits: IntakeLimits, result: IntakeResult
) -> None:
    invalid = f"{name}: Invalid ZIP or no data files found inside."
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
        _warn(result, invalid)
        return
    with archive:
        members = archive.infolist()
        refusal = _zip_refusal(members=members, limits=limits)
        if refusal:
            _warn(result, f"{name}: {refusal}. Skipped.")
            return
        extracted = 0
        total = 0
        for member in members:
            problem = _member_problem(member=member, limits=limits)
            if problem == "":
                problem = _member_name_problem(zip_name=name, member=member, limits=limits)
            if problem is None:
                continue
            if problem:
                _warn(result, f"{name}: {_shown(member.filename)}: {problem}. Skipped.")
                continue
            stored = _member_extract(
                archive=archive,
                member=member,
                batch_dir=batch_dir,
                limits=limits,
                total_before=total,
                name=name,
            )
            if isinstance(stored, str):
                _warn(result, f"{name}: {_shown(member.filename)}: {stored}. Skipped.")
                continue
            stored, sha256 = stored
            workbook_problem = workbook_zip_problem(path=stored, name=member.filename, limits=limits)
            if workbook_problem:
                stored.unlink(missing_ok=True)
                _warn(result, f"{name}: {_shown(member.filename)}: {workbook_problem}. Skipped.")
                continue
            size = stored.stat().st_size
            total += size
            extracted += 1
            result.files.append(
                IntakeFile(
                    original_name=file_name_safe(member.filename),
                    stored_path=stored,
                    source_name=f"{name}:{member.filename}",
                    size=size,
                    sha256=sha256,
                )
            )
    if not extracted:
        _warn(result, invalid)


def _zip_refusal(*, members: list[zipfile.ZipInfo], limits: IntakeLimits) -> str | None:
    """Say why a whole archive is refused before anything is extracted, or None."""
    if len(members) > limits.zip_max_members:
        return f"has {len(members)} entries, over the limit of {limits.zip_max_members}"
    declared = sum(member.file_size for member in members)
    if declared > limits.zip_max_total_bytes:
        return f"would expand to {_size_text(declared)}, over the limit of {_size_text(limits.zip_max_total_bytes)}"
    # Entries whose data overlap are how "quine" bombs reuse one compressed stream (CVE-2024-0450).
    ordered = sorted(members, key=lambda member: member.header_offset)
    for current, following in zip(ordered, ordered[1:], strict=False):
        if following.header_offset < current.header_offset + _LOCAL_HEADER_BYTES + current.compress_size:
            return "has overlapping entries (possible ZIP bomb)"
    return None


def workbook_zip_problem(*, path: Path, name: str, limits: IntakeLimits) -> str:
    """Why a workbook that is a ZIP container (.xlsx, .xlsm, .ods) is refused under the ZIP limits, or "".

    The same checks as an uploaded ZIP, with the same words: entry count, declared size, overlapping entries,
    each part's compression ratio, and the bytes decompression really yields (headers can lie). A file that is
    not a ZIP at all is left to the reader, which says it cannot be read."""
    if _extension(name) not in ZIP_WORKBOOK_EXTENSIONS:
        return ""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
        return ""
    with archive:
        members = archive.infolist()
        refusal = _zip_refusal(members=members, limits=limits)
        if refusal:
            return refusal
        total = 0
        for member in members:
            if member.file_size and (
                not member.compress_size or member.file_size / member.compress_size > limits.zip_max_ratio
            ):
                ratio = member.file_size / member.compress_size if member.compress_size else float("inf")
                return (
                    f"{_shown(member.filename)}: compression ratio of {ratio:.0f}:1 is over the limit of "
                    f"{limits.zip_max_ratio}:1 (possible ZIP bomb)"
                )
            written = 0
            try:
                with archive.open(member) as source:
                    while block := source.read(COPY_BYTES):
                        written += len(block)
                        if written > member.file_size:
                            return (
                                f"{_shown(member.filename)}: holds more data than its header declares "
                                "(possible ZIP bomb)"
                            )
                        if total + written > limits.zip_max_total_bytes:
                            return (
                                f"would expand to more than {_size_text(limits.zip_max_total_bytes)}, over the "
                                "limit for a whole ZIP"
                            )
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError):
                return f"{_shown(member.filename)}: cannot be extracted: it is damaged or its headers do not match its data"
            total += written
    return ""


def _member_problem(*, member: zipfile.ZipInfo, limits: IntakeLimits) -> str | None:
    """Return "" for a member to extract, None to skip it silently, or why it is refused."""
    path = member.filename.replace("\\", "/")
    parts = path.split("/")
    if path.startswith("/") or _DRIVE_RE.match(path) or ".." in parts:
        return "unsafe path (absolute or outside the archive)"
    if member.is_dir() or path.endswith("/") or parts[0] == "__MACOSX":
        return None
    if any(part.startswith(".") and part != "." for part in parts):
        return None
    if stat.S_ISLNK(member.external_attr >> 16):
        return "symbolic links are not extracted"
    if member.flag_bits & 0x1:
        return "encrypted members are not extracted"
    extension = _extension(parts[-1])
    if extension == ".zip":
        return "nested ZIP archives are not extracted"
    if extension not in DATA_EXTENSIONS:
        return f"Unsupported file type '{extension or '(none)'}'"
    if member.file_size > limits.max_file_bytes:
        return _over_file_limit(member.file_size, limits)
    if member.file_size and (
        not member.compress_size or member.file_size / member.compress_size > limits.zip_max_ratio
    ):
        ratio = member.file_size / member.compress_size if member.compress_size else float("inf")
        return f"compression ratio of {ratio:.0f}:1 is over the limit of {limits.zip_max_ratio}:1 (possible ZIP bomb)"
    return ""


def _member_name_problem(*, zip_name: str, member: zipfile.ZipInfo, limits: IntakeLimits) -> str:
    """Why a member's names would not fit the job's record of them, or "" when they fit."""
    base = file_name_safe(member.filename)
    if len(base) > limits.name_max_chars:
        return _name_too_long(base, limits)
    source = f"{zip_name}:{member.filename}"
    if len(source) > limits.source_max_chars:
        return (
            f"its path in the archive is too long ({len(source)} characters with the ZIP's name, at most "
            f"{limits.source_max_chars})"
        )
    return ""


def _name_too_long(name: str, limits: IntakeLimits) -> str:
    return f"the file name is too long ({len(name)} characters, at most {limits.name_max_chars})"


SHOWN_NAME_CHARS = 80


def _shown(name: str) -> str:
    """A name as a warning quotes it: a very long one is cut (the warning says how long it was)."""
    return name if len(name) <= SHOWN_NAME_CHARS else f"{name[:SHOWN_NAME_CHARS]}…"


def _member_extract(
    *,
    archive: zipfile.ZipFile,
    member: zipfile.ZipInfo,
    batch_dir: Path,
    limits: IntakeLimits,
    total_before: int,
    name: str,
) -> tuple[Path, str] | str:
    """Stream one member to a new server-named file, counting the bytes really produced and hashing them
    (path, SHA-256); or say why not."""
    target = _target_path(batch_dir=batch_dir, name=member.filename.replace("\\", "/"))
    written = 0
    digest = hashlib.sha256()
    try:
        with archive.open(member) as source, target.open("xb") as out:
            while block := source.read(COPY_BYTES):
                written += len(block)
                # Headers can lie: trust only what decompression actually yields.
                if written > member.file_size:
                    raise _MemberRefused("holds more data than its header declares (possible ZIP bomb)")
                if written > limits.max_file_bytes:
                    raise _MemberRefused(_over_file_limit(written, limits))
                if total_before + written > limits.zip_max_total_bytes:
                    raise _MemberRefused(
                        f"extracting it would go over the limit of {_size_text(limits.zip_max_total_bytes)} "
                        "for the whole ZIP"
                    )
                out.write(block)
                digest.update(block)
    except _MemberRefused as exc:
        target.unlink(missing_ok=True)
        return str(exc)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        target.unlink(missing_ok=True)
        logger.info("Member %s of %s cannot be extracted: %s", member.filename, name, exc)
        return "cannot be extracted: it is damaged or its headers do not match its data"
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target, digest.hexdigest()


def _target_path(*, batch_dir: Path, name: str) -> Path:
    """A fresh file name made by the server: never the client's, only its (sanitised) extension."""
    extension = _extension(name)
    if not _SAFE_EXTENSION_RE.match(extension):
        extension = ""
    return batch_dir / f"{uuid.uuid4().hex}{extension}"


def file_name_safe(name: str) -> str:
    """A client's file name as the app keeps, shows and archives it: its last path part (either separator),
    printable characters only, no surrounding blanks, never a dot-file. The one sanitiser of file names."""
    base = (name or "").replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return "".join(ch for ch in base if ch.isprintable()).strip().lstrip(".")


def _extension(name: str) -> str:
    base = file_name_safe(name)
    stem, dot, extension = base.rpartition(".")
    return f".{extension.lower()}" if dot and stem else ""


def _over_file_limit(size: int, limits: IntakeLimits) -> str:
    return f"{_size_text(size)} is over the limit of {_size_text(limits.max_file_bytes)} per file"


def _size_text(size: int) -> str:
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            value = size / factor
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


def _warn(result: IntakeResult, message: str) -> None:
    logger.info("Intake: %s", message)
    result.warnings.append(message)
