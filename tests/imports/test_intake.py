"""Taking uploads in: server-made names, size limits, and safe unpacking of ZIP archives."""

import zipfile
from pathlib import Path

import pytest

from importhub.errors import LimitExceeded
from imports.services.intake import IntakeLimits, files_intake, upload_store

DATA = Path(__file__).resolve().parent.parent / "data"
SALES = (DATA / "sales_utf8.csv").read_bytes()


@pytest.fixture
def batch_dir(tmp_path: Path) -> Path:
    return tmp_path / "batch"


def _upload(batch_dir: Path, sample: str, *, as_name: str | None = None) -> tuple[str, Path]:
    data = (DATA / sample).read_bytes()
    chunks = [data[i : i + 100] for i in range(0, len(data), 100)]
    name = as_name or sample
    return name, upload_store(batch_dir=batch_dir, original_name=name, chunks=chunks, limits=IntakeLimits())


def test_upload_store_writes_under_a_server_made_name(batch_dir):
    stored = upload_store(
        batch_dir=batch_dir,
        original_name="..\\..\\etc\\Sales Oktober.CSV",
        chunks=[SALES[:100], SALES[100:]],
        limits=IntakeLimits(),
    )
    assert stored.parent == batch_dir
    assert stored.suffix == ".csv"
    assert len(stored.stem) == 32 and "Sales" not in stored.name
    assert stored.read_bytes() == SALES


def test_upload_store_refuses_an_upload_over_the_limit_and_leaves_nothing(batch_dir):
    with pytest.raises(LimitExceeded) as caught:
        upload_store(
            batch_dir=batch_dir,
            original_name="big/sales.csv",
            chunks=[SALES[:300], SALES[300:]],
            limits=IntakeLimits(max_file_bytes=400),
        )
    assert str(caught.value) == "sales.csv is larger than the limit of 400 bytes per file."
    assert caught.value.code == "limit_exceeded"
    assert list(batch_dir.iterdir()) == []


def test_files_intake_passes_csv_and_txt_through(batch_dir):
    uploads = [_upload(batch_dir, "sales_utf8.csv"), _upload(batch_dir, "sales_tab.txt", as_name="STOCK.TXT")]
    result = files_intake(batch_dir=batch_dir, uploads=uploads, limits=IntakeLimits())
    assert result.warnings == []
    assert [(f.original_name, f.source_name, f.size) for f in result.files] == [
        ("sales_utf8.csv", "sales_utf8.csv", len(SALES)),
        ("STOCK.TXT", "STOCK.TXT", (DATA / "sales_tab.txt").stat().st_size),
    ]
    assert [f.stored_path for f in result.files] == [path for _, path in uploads]


@pytest.mark.parametrize(
    ("sample", "warning"),
    [
        pytest.param("report.pdf", "report.pdf: Unsupported file type '.pdf'. Skipped.", id="pdf"),
        pytest.param(
            "notes_without_extension",
            "notes_without_extension: Unsupported file type '(none)'. Skipped.",
            id="no-extension",
        ),
    ],
)
def test_files_intake_skips_other_file_types(batch_dir, sample, warning):
    name, stored = _upload(batch_dir, sample)
    result = files_intake(batch_dir=batch_dir, uploads=[(name, stored)], limits=IntakeLimits())
    assert (result.files, result.warnings) == ([], [warning])
    assert not stored.exists()


def test_files_intake_refuses_a_plain_file_over_the_limit(batch_dir):
    uploads = [_upload(batch_dir, "sales_utf8.csv")]
    result = files_intake(batch_dir=batch_dir, uploads=uploads, limits=IntakeLimits(max_file_bytes=400))
    assert result.warnings == ["sales_utf8.csv: 417 bytes is over the limit of 400 bytes per file. Skipped."]
    assert result.files == []


@pytest.mark.parametrize(
    ("sample", "limits", "extracted", "warnings"),
    [
        pytest.param(
            "batch_nested.zip",
            IntakeLimits(),
            [
                ("sales_jan.csv", "batch_nested.zip:2026/10/sales_jan.csv"),
                ("stock_jan.txt", "batch_nested.zip:2026/10/stock/stock_jan.txt"),
                ("TOP_LEVEL.CSV", "batch_nested.zip:TOP_LEVEL.CSV"),
            ],
            [],
            id="nested-folders-macosx-dotfiles",
        ),
        pytest.param(
            "zip_slip.zip",
            IntakeLimits(),
            [("ok.csv", "zip_slip.zip:ok.csv")],
            [
                "zip_slip.zip: ../evil.csv: unsafe path (absolute or outside the archive). Skipped.",
                "zip_slip.zip: /etc/evil.csv: unsafe path (absolute or outside the archive). Skipped.",
                "zip_slip.zip: C:\\temp\\evil.csv: unsafe path (absolute or outside the archive). Skipped.",
                "zip_slip.zip: reports/../../evil2.csv: unsafe path (absolute or outside the archive). Skipped.",
            ],
            id="path-traversal",
        ),
        pytest.param(
            "symlink.zip",
            IntakeLimits(),
            [("data.csv", "symlink.zip:data.csv")],
            ["symlink.zip: link.csv: symbolic links are not extracted. Skipped."],
            id="symlink",
        ),
        pytest.param(
            "encrypted.zip",
            IntakeLimits(),
            [("open.csv", "encrypted.zip:open.csv")],
            ["encrypted.zip: secret.csv: encrypted members are not extracted. Skipped."],
            id="encrypted",
        ),
        pytest.param(
            "bomb.zip",
            IntakeLimits(),
            [("small.csv", "bomb.zip:small.csv")],
            [
                "bomb.zip: zeros.csv: compression ratio of 1029:1 is over the limit of 200:1 "
                "(possible ZIP bomb). Skipped."
            ],
            id="high-ratio-bomb",
        ),
        pytest.param(
            "too_many_members.zip",
            IntakeLimits(zip_max_members=10),
            [],
            ["too_many_members.zip: has 12 entries, over the limit of 10. Skipped."],
            id="too-many-members",
        ),
        pytest.param(
            "batch_nested.zip",
            IntakeLimits(zip_max_total_bytes=1000),
            [],
            ["batch_nested.zip: would expand to 1.7 KB, over the limit of 1000 bytes. Skipped."],
            id="declared-total-too-big",
        ),
        pytest.param(
            "batch_nested.zip",
            IntakeLimits(max_file_bytes=400),
            [],
            [
                "batch_nested.zip: 2026/10/sales_jan.csv: 417 bytes is over the limit of 400 bytes per file. Skipped.",
                "batch_nested.zip: 2026/10/stock/stock_jan.txt: 417 bytes is over the limit of 400 bytes per file. "
                "Skipped.",
                "batch_nested.zip: TOP_LEVEL.CSV: 417 bytes is over the limit of 400 bytes per file. Skipped.",
                "batch_nested.zip: Invalid ZIP or no data files found inside.",
            ],
            id="member-too-big",
        ),
        pytest.param(
            "nested.zip",
            IntakeLimits(),
            [("outer.csv", "nested.zip:outer.csv")],
            ["nested.zip: inner.zip: nested ZIP archives are not extracted. Skipped."],
            id="nested-zip",
        ),
        pytest.param(
            "corrupt.zip",
            IntakeLimits(),
            [],
            ["corrupt.zip: Invalid ZIP or no data files found inside."],
            id="corrupt",
        ),
        pytest.param(
            "with_pdf.zip",
            IntakeLimits(),
            [("sales.csv", "with_pdf.zip:sales.csv")],
            ["with_pdf.zip: docs/report.pdf: Unsupported file type '.pdf'. Skipped."],
            id="pdf-member",
        ),
        pytest.param(
            "only_pdf.zip",
            IntakeLimits(),
            [],
            [
                "only_pdf.zip: report.pdf: Unsupported file type '.pdf'. Skipped.",
                "only_pdf.zip: Invalid ZIP or no data files found inside.",
            ],
            id="no-data-members",
        ),
        pytest.param(
            "lying_size.zip",
            IntakeLimits(),
            [("honest.csv", "lying_size.zip:honest.csv")],
            [
                "lying_size.zip: liar.csv: cannot be extracted: it is damaged or its headers do not match "
                "its data. Skipped."
            ],
            id="lying-size-header",
        ),
        pytest.param(
            "overlapping.zip",
            IntakeLimits(),
            [],
            ["overlapping.zip: has overlapping entries (possible ZIP bomb). Skipped."],
            id="overlapping-entries",
        ),
    ],
)
def test_files_intake_unpacks_zips_safely(batch_dir, sample, limits, extracted, warnings):
    name, stored = _upload(batch_dir, sample)
    result = files_intake(batch_dir=batch_dir, uploads=[(name, stored)], limits=limits)
    assert [(f.original_name, f.source_name) for f in result.files] == extracted
    assert result.warnings == warnings
    assert not stored.exists()
    # Only the extracted files are left, flat in the batch folder under server-made names.
    assert sorted(batch_dir.iterdir()) == sorted(f.stored_path for f in result.files)


def test_files_intake_extracts_member_bytes_under_fresh_names(batch_dir):
    name, stored = _upload(batch_dir, "batch_nested.zip")
    with zipfile.ZipFile(DATA / "batch_nested.zip") as archive:
        expected = {
            info.filename: archive.read(info)
            for info in archive.infolist()
            if info.filename.endswith("_jan.csv")
        }
    result = files_intake(batch_dir=batch_dir, uploads=[(name, stored)], limits=IntakeLimits())
    first = result.files[0]
    assert first.stored_path.read_bytes() == expected["2026/10/sales_jan.csv"] == SALES
    assert first.size == len(SALES)
    assert first.stored_path.suffix == ".csv"
    assert first.stored_path.stem not in {"sales_jan", "2026"}
    assert len({f.stored_path.name for f in result.files}) == 3


def test_files_intake_goes_on_past_refused_files(batch_dir):
    uploads = [
        _upload(batch_dir, "corrupt.zip"),
        _upload(batch_dir, "report.pdf"),
        _upload(batch_dir, "symlink.zip"),
        _upload(batch_dir, "sales_utf8.csv"),
    ]
    result = files_intake(batch_dir=batch_dir, uploads=uploads, limits=IntakeLimits())
    assert [f.source_name for f in result.files] == ["symlink.zip:data.csv", "sales_utf8.csv"]
    assert result.warnings == [
        "corrupt.zip: Invalid ZIP or no data files found inside.",
        "report.pdf: Unsupported file type '.pdf'. Skipped.",
        "symlink.zip: link.csv: symbolic links are not extracted. Skipped.",
    ]
