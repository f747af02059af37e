"""The page's modules share no mutable exports (issue "One house"): a module that owns a
value changes it alone and lets others read it through functions. An exported `let` or `var`
is a live binding that every importer sees change under it. Read as text: no browser."""

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[3] / "scoreboard" / "static"
MODULES = sorted(STATIC.rglob("*.js"))
EXPORTED_DECLARATION = re.compile(r"^\s*export\s+(?:let|var)\s+[\w$]+", re.MULTILINE)
EXPORT_LIST = re.compile(r"^\s*export\s*\{([^}]*)\}", re.MULTILINE)
MUTABLE = re.compile(r"^(?:let|var)\s+([A-Za-z_$][\w$]*)", re.MULTILINE)


def mutable_exports(source: str) -> list[str]:
    """The lines or names by which ``source`` exports a `let` or `var`."""
    found = [m.group(0).strip() for m in EXPORTED_DECLARATION.finditer(source)]
    variables = set(MUTABLE.findall(source))
    for listed in EXPORT_LIST.finditer(source):
        for item in listed.group(1).split(","):
            name = item.split(" as ")[0].strip()
            if name in variables:
                found.append(name)
    return found


def test_the_check_sees_both_forms():
    assert mutable_exports("export let view = 1;\nexport var gen = 0;\n") == [
        "export let view", "export var gen"]
    assert mutable_exports("let me = null;\nexport { me as player };\n") == ["me"]
    assert mutable_exports("let me = null;\nexport const a = 1;\nexport function b() {}\n") == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(STATIC)))
def test_no_module_exports_a_variable(path):
    assert mutable_exports(path.read_text(encoding="utf-8")) == []


def test_the_page_modules_are_found():
    assert STATIC / "js" / "views.js" in MODULES
    assert STATIC / "js" / "player.js" in MODULES
