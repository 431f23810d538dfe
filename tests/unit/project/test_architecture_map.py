"""docs/ARCHITECTURE.md is a true map: every module is listed, nothing listed is gone, and its
layer diagram is the one import-linter enforces."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
MAP = ROOT / "docs" / "ARCHITECTURE.md"
CODE_FOLDERS = ("core", "ui", "app_pages", "testkit")
ENTRY_POINTS = ("app.py", "streamlit_app.py")
LISTED = re.compile(r"`((?:core|ui|app_pages|testkit)/[\w/]+\.py|app\.py|streamlit_app\.py)`")


def modules_on_disk() -> set[str]:
    found = {name for name in ENTRY_POINTS if (ROOT / name).is_file()}
    for folder in CODE_FOLDERS:
        for path in (ROOT / folder).rglob("*.py"):
            if path.name != "__init__.py":
                found.add(path.relative_to(ROOT).as_posix())
    return found


def code_blocks(text: str) -> list[list[str]]:
    blocks = re.findall(r"^```\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    return [[line.strip() for line in block.strip().splitlines()] for block in blocks]


def test_every_module_is_on_the_map_and_nothing_on_it_is_gone():
    listed = set(LISTED.findall(MAP.read_text(encoding="utf-8")))
    on_disk = modules_on_disk()
    assert len(on_disk) > 80
    assert sorted(on_disk - listed) == [], "modules missing from docs/ARCHITECTURE.md"
    packages = {
        path.relative_to(ROOT).as_posix()
        for folder in CODE_FOLDERS
        for path in (ROOT / folder).rglob("__init__.py")
    }
    assert sorted(listed - on_disk - packages) == [], (
        "docs/ARCHITECTURE.md lists modules that are gone"
    )


def test_the_layer_diagrams_are_the_ones_import_linter_checks():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    # The tiers (testkit, ui, core) and core's topic packages; the contracts inside one package
    # are described in words.
    top_level = [
        contract
        for contract in contracts
        if contract["type"] == "layers" and {"core", "core.nn"} & set(contract["layers"])
    ]
    assert len(top_level) == 2
    blocks = code_blocks(MAP.read_text(encoding="utf-8"))
    for contract in top_level:
        assert contract["layers"] in blocks, contract["name"]
