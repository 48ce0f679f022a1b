"""The registry of the figures quoted in README.md and docs/: where each comes from, and how to make it again.

    PYTHONPATH=. python benchmarks/figures.py check      # every figure against the results file it cites
    PYTHONPATH=. python benchmarks/figures.py list       # the commands that made the results files
    bash benchmarks/rerun_figures.sh                     # run them all again (a quiet machine: they are timings)

``docs/figures.toml`` holds one ``[[figure]]`` per headline number: the ``doc`` that quotes it, the ``text`` as
quoted, the ``results`` file under ``benchmarks/results/``, the ``value`` to read from it, the ``format`` the doc
prints it in (a ``str.format`` field; ``scale`` multiplies first, e.g. a step time x 469 steps / 60 for minutes per
epoch) and the ``command`` that made the results file, which the doc must print in the same section.

``value`` is a path into the JSON: keys and list indices separated by dots, and ``[key=value; key=value]`` for the
element of a list whose fields match (``steps[size=96; engine=numba/auto].vs_torch``). A ``.jsonl`` file is the list
of its lines. A results file carries its machine record (``provenance``, see minialex/provenance.py) -- or, for a
file made before results files carried one, the entry names the ``machine`` and the doc's section must name it
too; a figure typed from a run whose files were not kept is ``transcribed = "why"``, and its section says
"transcribed".
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = ROOT / "docs" / "figures.toml"
_MATCH = re.compile(r"^([^\[]*)\[([^\]]*)\]$")


def load(path: Path = REGISTRY) -> list[dict]:
    return tomllib.loads(path.read_text())["figure"]


def read_results(path: Path):
    text = path.read_text()
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)


def lookup(data, value: str):
    """The element of ``data`` that ``value`` names (module docstring); a KeyError saying which step failed."""
    for step in re.findall(r"(?:[^.\[]|\[[^\]]*\])+", value):  # split at the dots outside brackets
        match = _MATCH.match(step)
        key, where = (match.group(1), match.group(2)) if match else (step, None)
        if key:
            data = data[int(key)] if isinstance(data, list) else data[key]
        if where is not None:
            if where.isdigit():
                data = data[int(where)]
                continue
            wanted = dict(part.strip().split("=", 1) for part in where.split(";"))
            found = [d for d in data if all(str(d.get(k)) == v for k, v in wanted.items())]
            if len(found) != 1:
                raise KeyError(f"{step}: {len(found)} elements match, expected 1")
            data = found[0]
    return data


def formatted(entry: dict) -> str:
    """The figure as the doc should print it, read from its results file."""
    number = lookup(read_results(ROOT / entry["results"]), entry["value"])
    return entry.get("format", "{}").format(number * entry.get("scale", 1))


def section(doc: str, text: str) -> str:
    """The part of ``doc`` between the headings around the first occurrence of ``text`` ('' if absent)."""
    at = doc.find(text)
    if at < 0:
        return ""
    starts = [m.start() for m in re.finditer(r"^#{1,6} ", doc, re.M)]
    start = max([s for s in starts if s <= at], default=0)
    end = min([s for s in starts if s > at], default=len(doc))
    return doc[start:end]


def has_provenance(path: Path) -> bool:
    if path.suffix == ".jsonl":  # a run's records: its machine records are in provenance.jsonl beside them
        name = path.name.removesuffix(".metrics.jsonl").removesuffix("metrics.jsonl")
        return any((path.parent / f).exists() for f in (f"{name}.provenance.jsonl", "provenance.jsonl"))
    data = read_results(path)
    if "provenance" in data:  # minialex.provenance.machine_record
        record = data["provenance"]
        return bool(record.get("cpu", {}).get("model") and record.get("git", {}).get("commit"))
    legacy = data.get("machine") or {}  # lenet_chapter.json's older record: the same facts, flat
    return bool(legacy.get("cpu_model") and legacy.get("commit"))


def problems(entry: dict) -> list[str]:
    """What is wrong with one figure: an empty list when the doc, the results file and the command agree."""
    doc_path = ROOT / entry["doc"]
    doc = doc_path.read_text()
    where = f"{entry['doc']}: {entry['text']!r}"
    part = section(doc, entry["text"])
    if not part:
        return [f"{where} is not in the doc"]
    if "transcribed" in entry:
        return [] if "transcribed" in part else [f"{where} is transcribed ({entry['transcribed']}), "
                                                 "but its section does not say so"]
    found = []
    results = ROOT / entry["results"]
    if not results.exists():
        return [f"{where}: the results file {entry['results']} does not exist"]
    try:
        value = formatted(entry)
    except (KeyError, IndexError, TypeError, ValueError) as e:
        return [f"{where}: cannot read {entry['value']!r} from {entry['results']}: {e}"]
    if value != entry["text"]:
        found.append(f"{where}: {entry['results']} gives {value!r}")
    if entry["command"] not in part:
        found.append(f"{where}: the command {entry['command']!r} is not printed in its section")
    if not has_provenance(results):
        if "machine" not in entry:
            found.append(f"{where}: {entry['results']} has no machine record, and the entry names no machine")
        elif entry["machine"] not in part:
            found.append(f"{where}: its section does not name the machine {entry['machine']!r}")
    return found


def commands(entries: list[dict]) -> list[str]:
    """The distinct commands, in the registry's order."""
    return list(dict.fromkeys(e["command"] for e in entries if "transcribed" not in e))


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    entries = load()
    if argv[:1] == ["list"]:
        for command in commands(entries):
            print(command)
        for e in entries:
            if "transcribed" in e:
                print(f"# cannot rerun {e['doc']} {e['text']!r}: transcribed ({e['transcribed']})")
        return 0
    if argv[:1] == ["check"]:
        found = [p for e in entries for p in problems(e)]
        print("\n".join(found) or f"all {len(entries)} figures agree with their results files")
        return 1 if found else 0
    print(__doc__.strip().splitlines()[2], file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
