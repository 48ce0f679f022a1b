"""Re-point the docs' source links (``[`name`](../minialex/x.py#L10-L20)``) at where ``name`` is defined now.

Run after editing code the docs link to: ``python docs/relink.py``. tests/test_docs.py fails until you do.
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\[([^\]]*)\]\(\.\./(minialex/[\w/]+\.py)#L(\d+)-L(\d+)\)")


def definitions(file: Path) -> dict:
    """name -> (first line of the def, last line of the body) for every function and class in ``file``."""
    tree = ast.parse(file.read_text())
    return {node.name: (node.lineno, node.end_lineno) for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.ClassDef))}


def relink(text: str) -> str:
    def fix(m):
        label, file = m.group(1), m.group(2)
        defs = definitions(ROOT / file)
        names = [n for n in re.findall(r"`?(\w+)`?", label) if n in defs]
        if not names:
            return m.group(0)
        first = min(defs[n][0] for n in names)
        last = max(defs[n][1] for n in names)
        return f"[{label}](../{file}#L{first}-L{last})"
    return LINK.sub(fix, text)


if __name__ == "__main__":
    for doc in sorted((ROOT / "docs").glob("*.md")):
        old = doc.read_text()
        new = relink(old)
        if new != old:
            doc.write_text(new)
            print(f"updated {doc.relative_to(ROOT)}")
