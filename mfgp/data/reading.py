"""Reading a data file into a raw DataFrame, with the file line of every data row.

Comma, semicolon and tab separated files are read, in UTF-8 (with or without a byte-order
mark), UTF-16 (with its byte-order mark) or Latin-1. Blank lines are skipped; separators after
the last header column (``1,2,3,`` under ``V,t,C``, as spreadsheets export them) are ignored
when those extra cells are empty. The file line of each data row is kept so that messages can
name it (``line = row + 2`` for a file with one header line and no blank lines).

Decimal commas (``4,776``) are read with ``decimal=","``, and recognised without it in a file
separated by semicolons or tabs whose numbers all use a comma (none a point): such a file is
read with ``decimal=","`` and a note says so. A comma-separated file is never guessed (``1,200``
may be a thousand and two hundred). Excel workbooks (``.xlsx``, ``.xlsm``) are read with
openpyxl, the first sheet or the one named by ``sheet``; their rows are named by the sheet's
row numbers. Old Excel files (``.xls``) are refused with the advice to save them as ``.xlsx``.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mfgp.data.validation import MAX_LISTED, RowNames
from mfgp.exceptions import InputDataError

__all__ = [
    "ANNOTATION_PREFIX",
    "EXCEL_SUFFIXES",
    "RawTable",
    "check_decimal",
    "point_decimals",
    "read_data",
    "read_source",
    "read_table",
    "read_table_with_lines",
]

#: file suffixes read as Excel workbooks.
EXCEL_SUFFIXES = (".xlsx", ".xlsm")

_NOT_CSV_SUFFIXES = {
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


_COMMA_NUMBER = re.compile(r"^\s*[-+]?(?:\d+,\d*|,\d+)(?:[eE][-+]?\d+)?\s*$")
_DOTTED_COMMA_NUMBER = re.compile(r"^\s*[-+]?\d{1,3}(?:\.\d{3})+,\d*\s*$")  # 1.234,5
_POINT_NUMBER = re.compile(r"^\s*[-+]?(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$")


@dataclass
class RawTable:
    """A table as read from a file, before any check.

    Attributes:
        frame: the raw table, one row per data line, with the header's column names.
        lines: the 1-based file line (or sheet row) of every row.
        notes: what reading converted (decimal commas), for ``ScaleUpData.conversions``.
        line_unit: how ``lines`` are named in messages (``"file lines"``, ``"sheet rows"``).
    """

    frame: pd.DataFrame
    lines: list[int]
    notes: list[str] = field(default_factory=list)
    line_unit: str = "file lines"


def read_table(
    path: str | Path, *, decimal: str | None = None, sheet: str | int | None = None
) -> pd.DataFrame:
    """Read a CSV file (comma, semicolon or tab separated; UTF-8 or Latin-1) or a workbook.

    Args:
        path: the file.
        decimal: ``","`` to read decimal commas, ``"."`` to never do so, None to recognise
            them in a semicolon- or tab-separated file.
        sheet: the sheet of an Excel workbook, by name or 0-based index (default the first).

    Returns:
        The raw table, one row per data line, with the header's column names.

    Raises:
        InputDataError: the file is missing, empty, binary or not a CSV, names a column twice,
            or has a line with more (non-empty) fields than the header.
    """
    return read_source(path, decimal=decimal, sheet=sheet).frame


def check_decimal(decimal: str | None) -> None:
    """Raise unless ``decimal`` is None, ``"."`` or ``","``."""
    if decimal not in (None, ".", ","):
        raise InputDataError(f"decimal must be ',' or '.' (--decimal ,), got {decimal!r}")


def _point_cell(cell: str) -> str:
    if _COMMA_NUMBER.match(cell):
        return cell.replace(",", ".")
    if _DOTTED_COMMA_NUMBER.match(cell):
        return cell.replace(".", "").replace(",", ".")
    return cell


def point_decimals(frame: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """``frame`` with its decimal commas (``'4,776'``, ``'1.234,5'`` in text cells) written
    with points, and the first cell converted (None if none was)."""
    out = frame.copy()
    example: str | None = None
    for column in out.columns:
        values = out[column]
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            continue
        text = values.map(lambda v: isinstance(v, str))
        converted = values.where(~text, values[text].map(_point_cell))
        changed = text & (converted != values)
        if changed.any():
            example = example or str(values[changed].iloc[0]).strip()
            out[column] = converted
    return out, example


def _comma_decimals(records: list[list[str]], sep: str, decimal: str | None) -> bool:
    """Whether the data cells are read with decimal commas: always with ``decimal=","``;
    without it, where a semicolon- or tab-separated file's numbers use commas and never points.
    """
    if decimal is not None:
        return decimal == ","
    if sep == ",":
        return False
    commas = points = 0
    for record in records:
        for cell in record:
            if _COMMA_NUMBER.match(cell) or _DOTTED_COMMA_NUMBER.match(cell):
                commas += 1
            elif _POINT_NUMBER.match(cell):
                points += 1
    return commas > 0 and points == 0


def _check_file(path: Path) -> bytes:
    """The bytes of ``path``, raising where it is no readable text file."""
    if not path.exists():
        raise InputDataError(f"data file {path} does not exist; check the --data path")
    if not path.is_file():
        raise InputDataError(f"{path} is not a file; pass the path of a CSV file")
    if path.suffix.lower() == ".xls":
        raise InputDataError(
            f"{path} is an old Excel workbook (.xls), not a CSV, which mfgp does not read; open "
            "it in Excel and save it as an Excel workbook (.xlsx) or as CSV, and pass that file"
        )
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


#: columns whose name starts with this are annotations written by ``mfgp suggest`` (the
#: vessel, cost, production band, reason of a proposed run): reading drops them, so that a
#: filled-in ``suggestions.csv`` can be appended to the data as it is.
ANNOTATION_PREFIX = "mfgp_"


def _drop_annotations(frame: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    marked = [c for c in frame.columns if str(c).startswith(ANNOTATION_PREFIX)]
    if marked:
        notes.append(f"columns {marked} are mfgp's annotations of suggested runs: not read")
        frame = frame.drop(columns=marked)
    return frame


def read_data(
    source: str | Path | pd.DataFrame,
    *,
    decimal: str | None = None,
    sheet: str | int | None = None,
) -> tuple[pd.DataFrame, RowNames, list[str]]:
    """The raw table of a file or a DataFrame (a copy), the names of its rows and what reading
    converted (decimal commas; a DataFrame's text cells too with ``decimal=","``). Columns
    named ``mfgp_...`` (:data:`ANNOTATION_PREFIX`) are dropped, with a note.

    Raises:
        InputDataError: as :func:`read_source`; an empty DataFrame; any other ``source``.
    """
    raw, rows, notes = _read_data(source, decimal=decimal, sheet=sheet)
    return _drop_annotations(raw, notes), rows, notes


def _read_data(
    source: str | Path | pd.DataFrame,
    *,
    decimal: str | None = None,
    sheet: str | int | None = None,
) -> tuple[pd.DataFrame, RowNames, list[str]]:
    check_decimal(decimal)
    if isinstance(source, pd.DataFrame):
        if sheet is not None:
            raise InputDataError("sheet (--sheet) is for Excel workbooks, not for a DataFrame")
        if source.empty:
            raise InputDataError("the DataFrame has no rows; it needs one row per observation")
        raw = source.copy().reset_index(drop=True)
        notes = []
        if decimal == ",":
            raw, example = point_decimals(raw)
            if example is not None:
                notes.append(f"decimal commas read as decimal points (e.g. {example!r})")
        return raw, RowNames(), notes
    if isinstance(source, (str, Path)):
        table = read_source(source, decimal=decimal, sheet=sheet)
        return table.frame, RowNames(tuple(table.lines), table.line_unit), list(table.notes)
    raise InputDataError(
        "data must be a CSV path or a pandas DataFrame (or an Excel .xlsx path), got "
        f"{type(source).__name__}"
    )


def read_table_with_lines(
    path: str | Path, *, decimal: str | None = None, sheet: str | int | None = None
) -> tuple[pd.DataFrame, list[int]]:
    """Read a file like :func:`read_table`, also returning the file line of every row.

    Returns:
        ``(frame, lines)``: the raw table and, for each of its rows, the 1-based line of the
        file (or row of the sheet) where that row starts.

    Raises:
        InputDataError: as :func:`read_table`.
    """
    table = read_source(path, decimal=decimal, sheet=sheet)
    return table.frame, table.lines


def read_source(
    path: str | Path, *, decimal: str | None = None, sheet: str | int | None = None
) -> RawTable:
    """Read a CSV file or an Excel workbook into a :class:`RawTable`.

    Args:
        path: the file.
        decimal: as :func:`read_table`.
        sheet: as :func:`read_table` (an error for a CSV file).

    Raises:
        InputDataError: as :func:`read_table`; also an unknown sheet (naming the sheets) or a
            workbook that cannot be opened.
    """
    path = Path(path)
    check_decimal(decimal)
    if path.suffix.lower() in EXCEL_SUFFIXES and path.is_file():
        return _read_excel(path, sheet, decimal)
    raw = _check_file(path)
    if sheet is not None:
        raise InputDataError(
            f"sheet {sheet!r} (--sheet) is for Excel workbooks; {path} is read as a CSV: leave "
            "--sheet out"
        )
    text = _decode(path, raw)
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
    _check_header(path, header, f"line {header_line}")
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
    notes = []
    if _comma_decimals(records, sep, decimal):
        example = next((c.strip() for r in records for c in r if _point_cell(c) != c), None)
        if example is not None:
            how = "decimal=','" if decimal == "," else f"{_SEPARATORS[sep]}-separated file"
            notes.append(
                f"decimal commas read as decimal points (e.g. {example!r} as "
                f"{_point_cell(example)}; {how})"
            )
        records = [[_point_cell(cell) for cell in rec] for rec in records]
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
    return RawTable(frame, lines, notes)


def _check_header(path: Path, header: list[str], where: str) -> None:
    dupes = sorted({n for n in header if n and header.count(n) > 1})
    if dupes:
        raise InputDataError(
            f"{path} names the columns {dupes} more than once in its header ({where}); give "
            "each column one name"
        )


def _pick_sheet(path: Path, names: list[str], sheet: str | int | None) -> str:
    """The sheet named by ``sheet`` (a name, or a 0-based index, also as text)."""
    if sheet is None:
        return names[0]
    if isinstance(sheet, str) and sheet in names:
        return sheet
    text = str(sheet).strip()
    if text.lstrip("-").isdigit() and 0 <= int(text) < len(names):
        return names[int(text)]
    raise InputDataError(
        f"{path} has no sheet {sheet!r}; its sheets are {names} (--sheet NAME, or a 0-based index)"
    )


def _blank_cell(value: object) -> bool:
    return value is None or value == "" or (isinstance(value, float) and value != value)


def _read_excel(path: Path, sheet: str | int | None, decimal: str | None) -> RawTable:
    """An Excel workbook's sheet: the first filled row is the header; empty rows are skipped,
    and so are empty columns without a header (a sheet's used range often reaches past the
    data)."""
    try:
        import openpyxl  # noqa: F401  (pandas reads .xlsx through it)
    except ImportError as err:  # pragma: no cover - a dependency of mfgp
        raise InputDataError(
            f"reading {path} needs openpyxl: pip install openpyxl, or export the sheet as CSV"
        ) from err
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except Exception as err:  # openpyxl raises many kinds for a damaged or fake file
        detail = " ".join(str(err).split()) or type(err).__name__
        raise InputDataError(
            f"{path} has the name of an Excel workbook, not a CSV, but could not be opened as "
            f"one ({detail}); save it again from Excel as .xlsx, or export it as CSV (for "
            "example pandas.read_excel(...).to_csv(...))"
        ) from err
    with book:
        name = _pick_sheet(path, list(book.sheet_names), sheet)
        cells = pd.read_excel(book, sheet_name=name, header=None, dtype=object)
    cells = cells.map(lambda v: v.strip() if isinstance(v, str) else v)
    filled = ~cells.map(_blank_cell).all(axis=1)
    if not filled.any():
        raise InputDataError(f"sheet {name!r} of {path} is empty; it needs a header row")
    first = int(filled.to_numpy().argmax())
    header_cells = list(cells.iloc[first])
    keep = [
        k
        for k, h in enumerate(header_cells)
        if not _blank_cell(h) or not cells.iloc[first + 1 :, k].map(_blank_cell).all()
    ]
    header = [
        f"Unnamed: {k}" if _blank_cell(header_cells[k]) else str(header_cells[k]).strip()
        for k in keep
    ]
    _check_header(path, header, f"sheet {name!r} row {first + 1}")
    body = cells.iloc[first + 1 :, keep]
    body = body.loc[filled.iloc[first + 1 :].to_numpy()]
    if body.empty:
        raise InputDataError(f"sheet {name!r} of {path} has a header but no data rows")
    lines = [int(i) + 1 for i in body.index]
    frame = pd.DataFrame(body.to_numpy(), columns=header).infer_objects()
    notes = [f"sheet {name!r} of the Excel workbook {path.name} read"]
    if decimal == ",":
        frame, example = point_decimals(frame)
        if example is not None:
            notes.append(f"decimal commas read as decimal points (e.g. {example!r}; decimal=',')")
    return RawTable(frame, lines, notes, "sheet rows")
