"""Reading a data file into a raw DataFrame, with the file line of every data row.

Comma, semicolon and tab separated files are read, in UTF-8 (with or without a byte-order
mark), UTF-16 (with its byte-order mark) or Latin-1. Blank lines are skipped; separators after
the last header column (``1,2,3,`` under ``V,t,C``, as spreadsheets export them) are ignored
when those extra cells are empty. The file line of each data row is kept so that messages can
name it (``line = row + 2`` for a file with one header line and no blank lines).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from mfgp.data.validation import MAX_LISTED
from mfgp.exceptions import InputDataError

__all__ = ["read_table", "read_table_with_lines"]

_NOT_CSV_SUFFIXES = {
    ".xlsx": "an Excel workbook",
    ".xls": "an Excel workbook",
    ".json": "a JSON file",
    ".parquet": "a Parquet file",
    ".pkl": "a pickle",
    ".pickle": "a pickle",
    ".feather": "a Feather file",
    ".h5": "an HDF5 file",
    ".hdf5": "an HDF5 file",
    ".npy": "a NumPy array",
    ".npz": "a NumPy archive",
    ".zip": "a zip archive",
    ".png": "an image",
    ".jpg": "an image",
    ".pdf": "a PDF",
}

_SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab"}


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV file (comma, semicolon or tab separated; UTF-8 or Latin-1).

    Args:
        path: the file.

    Returns:
        The raw table, one row per data line, with the header's column names.

    Raises:
        InputDataError: the file is missing, empty, binary or not a CSV, names a column twice,
            or has a line with more (non-empty) fields than the header.
    """
    return read_table_with_lines(path)[0]


def _check_file(path: Path) -> bytes:
    """The bytes of ``path``, raising where it is no readable text file."""
    if not path.exists():
        raise InputDataError(f"data file {path} does not exist; check the --data path")
    if not path.is_file():
        raise InputDataError(f"{path} is not a file; pass the path of a CSV file")
    kind = _NOT_CSV_SUFFIXES.get(path.suffix.lower())
    if kind is not None:
        raise InputDataError(
            f"{path} looks like {kind}, not a CSV; export it as CSV (for example "
            "pandas.read_excel(...).to_csv(...)) and pass that file"
        )
    return path.read_bytes()


def _decode(path: Path, raw: bytes) -> str:
    """The text of a file: UTF-16 after its byte-order mark (Excel's "Unicode text"), UTF-8
    (with or without a byte-order mark), else Latin-1 (which decodes any bytes).

    Raises:
        InputDataError: the file is empty or binary.
    """
    text: str | None = None
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError:
            text = None
    if text is None and b"\x00" in raw[:4096]:
        raise InputDataError(f"{path} is a binary file, not a CSV; pass a text CSV file")
    if text is None:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    if not text.strip():
        raise InputDataError(f"{path} is empty; it needs a header line and one row per observation")
    return text


def _records(path: Path, text: str, sep: str) -> tuple[list[list[str]], list[int]]:
    """Non-blank CSV records of ``text`` and the file line where each starts (1-based)."""
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=sep, skipinitialspace=True, strict=True
    )
    records: list[list[str]] = []
    lines: list[int] = []
    before = 0
    try:
        for record in reader:
            start, before = before + 1, reader.line_num
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # a blank line
            records.append(record)
            lines.append(start)
    except csv.Error as err:
        if "unexpected end of data" in str(err):
            problem = f'a quote (") opened on file line {before + 1} is never closed'
        else:
            problem = f"file line {before + 1}: {err}"
        raise InputDataError(
            f"{path} could not be read as a CSV ({problem}); check the quotes on that line: a "
            'value with a separator in it is quoted as "a,b", a quote inside it doubled ("")'
        ) from err
    return records, lines


def read_table_with_lines(path: str | Path) -> tuple[pd.DataFrame, list[int]]:
    """Read a CSV file like :func:`read_table`, also returning the file line of every row.

    Args:
        path: the file.

    Returns:
        ``(frame, lines)``: the raw table and, for each of its rows, the 1-based line of the
        file where that row starts.

    Raises:
        InputDataError: as :func:`read_table`.
    """
    path = Path(path)
    text = _decode(path, _check_file(path))
    head = text.lstrip()[:100].lower()
    if head.startswith(("<!doctype", "<html", "<?xml", "<table")):
        raise InputDataError(
            f"{path} is an HTML or XML page, not a CSV; download or export the data as CSV"
        )
    first = next(line for line in text.splitlines() if line.strip())
    sep = max(_SEPARATORS, key=first.count)
    if first.count(sep) == 0:
        sep = ","
    records, lines = _records(path, text, sep)
    header = [name.strip() for name in records[0]]
    header_line, records, lines = lines[0], records[1:], lines[1:]
    if not records:
        raise InputDataError(f"{path} has a header but no data rows")

    dupes = sorted({n for n in header if n and header.count(n) > 1})
    if dupes:
        raise InputDataError(
            f"{path} names the columns {dupes} more than once in its header (line "
            f"{header_line}); give each column one name"
        )
    width = len(header)
    ragged = [
        (line, len(rec))
        for line, rec in zip(lines, records, strict=True)
        if len(rec) > width and any(cell.strip() for cell in rec[width:])
    ]
    if ragged:
        shown = ", ".join(f"{line} ({n} fields)" for line, n in ragged[:MAX_LISTED])
        more = f" and {len(ragged) - MAX_LISTED} more" if len(ragged) > MAX_LISTED else ""
        raise InputDataError(
            f"{path} could not be read as a CSV: the header (line {header_line}) has {width} "
            f"{_SEPARATORS[sep]}-separated fields but file lines {shown}{more} have more; check "
            "that every row has the same number of fields as the header (a separator inside a "
            "value needs quotes)"
        )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rec[:width] for rec in records)
    out.seek(0)
    try:
        frame = pd.read_csv(out, sep=",", index_col=False, skip_blank_lines=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        detail = " ".join(str(err).split())
        raise InputDataError(
            f"{path} could not be read as a CSV ({detail}); check that every row has the same "
            "number of fields as the header"
        ) from err
    if len(frame) != len(lines):  # cannot happen: one record per row; keep the rows named
        lines = [header_line + 1 + i for i in range(len(frame))]
    return frame, lines
