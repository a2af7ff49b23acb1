"""Every docstring pointer `docs/derivations.md, "Section"` must name a real section."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_derivation_pointers_resolve():
    headings = set(re.findall(r"^## (.+?)\s*$", (ROOT / "docs" / "derivations.md").read_text(),
                              flags=re.M))
    pointers = {}
    for path in (ROOT / "tinygan").rglob("*.py"):
        text = path.read_text()
        found = re.findall(r'docs/derivations\.md,\s+"([^"]+)"', text)
        found += re.findall(r'\.py\s+"([^"]+)"', text)          # the index in tinygan/nn/__init__.py
        for section in found:
            pointers.setdefault(" ".join(section.split()), []).append(path.name)
    assert pointers, "no pointers found: the pattern or the docstrings changed"
    missing = {s: files for s, files in pointers.items() if s not in headings}
    assert not missing, f"docstrings point to sections that do not exist: {missing}"
