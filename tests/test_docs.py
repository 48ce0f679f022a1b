"""The examples in docs/*.md are doctests: every number the docs show is the output of the code as it is now."""

import doctest
import re
from pathlib import Path

import pytest

DOCS = sorted((Path(__file__).parent.parent / "docs").glob("*.md"))
WITH_EXAMPLES = [p for p in DOCS if ">>> " in p.read_text()]


def test_some_docs_have_examples():
    assert WITH_EXAMPLES


@pytest.mark.parametrize("path", WITH_EXAMPLES, ids=lambda p: p.name)
def test_doc_examples_print_what_the_docs_say(path):
    result = doctest.testfile(str(path), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE,
                              raise_on_error=False, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {path.name} differ (see output)"


ROOT = Path(__file__).parent.parent
LINK = re.compile(r"\[([^\]]*)\]\(\.\./(minialex/[\w/]+\.py)#L(\d+)-L(\d+)\)")
SOURCE_BLOCK = re.compile(r"```python\n# (minialex/[\w/]+\.py)\n(.*?)```", re.S)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_line_links_point_at_the_function_they_name(path):
    for text, file, first, last in LINK.findall(path.read_text()):
        lines = (ROOT / file).read_text().splitlines()
        assert int(last) <= len(lines), f"{path.name}: {file}#L{first}-L{last} runs past the end of the file"
        head = lines[int(first) - 1].strip()
        name = re.match(r"(?:def|class) (\w+)", head)
        assert name and name.group(1) in text, \
            f"{path.name}: link [{text}] to {file} line {first} finds {head!r}: update the line numbers"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_code_quoted_from_a_file_is_still_in_that_file(path):
    for file, block in SOURCE_BLOCK.findall(path.read_text()):
        source = (ROOT / file).read_text()
        for line in block.splitlines():
            assert line in source, f"{path.name}: the line {line!r} is no longer in {file}: update the quote"
