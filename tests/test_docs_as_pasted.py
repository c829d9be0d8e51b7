"""The pages' examples run as shown: pasted, in order, into a fresh
interpreter in an empty directory, on the SQLite file each page names.

The doc tests (conftest.py) run the pages on every configured database,
replacing the URL each page chooses. This runs them with nothing replaced
and no set-up at all, as a reader would.
"""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

#: The pages with examples that run on SQLite with nothing but what they show.
#: Not here: native.rst (PostgreSQL and MariaDB only) and lifecycle.rst, whose
#: hidden set-up makes docs/example importable.
PAGES = [
    'README.rst',
    'docs/quickstart.rst',
    'docs/generic.rst',
    'docs/sessions.rst',
    'docs/inserting.rst',
    'docs/pooled.rst',
    'docs/operations.rst',
    'docs/commandline.rst',
    'docs/migrations.rst',
    'docs/guarantees.rst',
    'docs/testing.rst',
    'docs/asyncio.rst',
]

RUN_PAGE = '''
import sys
from doctest import ELLIPSIS
from sybil.document import Document
from sybil.parsers.rest import DocTestParser, PythonCodeBlockParser, SkipParser

document = Document.parse(sys.argv[1], DocTestParser(optionflags=ELLIPSIS), PythonCodeBlockParser(), SkipParser())
for example in document.examples():
    example.evaluate()
print('ran', len(list(document.examples())), 'examples')
'''


@pytest.mark.parametrize('page', PAGES)
def test_the_page_runs_as_pasted_into_a_fresh_interpreter(page, tmp_path):
    result = subprocess.run(
        [sys.executable, '-c', RUN_PAGE, str(ROOT / page)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_page_with_examples_is_run_as_pasted_or_says_why_not():
    with_examples = {
        str(page.relative_to(ROOT))
        for page in [ROOT / 'README.rst', *(ROOT / 'docs').glob('*.rst')]
        if '>>> ' in page.read_text() or '.. code-block:: python' in page.read_text()
    }
    assert with_examples - set(PAGES) == {'docs/native.rst', 'docs/lifecycle.rst'}
