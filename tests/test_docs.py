"""The documentation builds, and the README's commands are the ones CI runs."""
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

from docutils.core import publish_doctree

ROOT = Path(__file__).parent.parent


def readme_commands():
    return re.findall(r'^  (python3 -m venv .*)$', (ROOT / 'README.rst').read_text(), re.MULTILINE)


def test_the_docs_build_without_warnings_or_broken_links(tmp_path):
    # -n: every cross-reference must resolve, to our API or, through the
    # inventories shipped in docs/_inventories, to another project's docs.
    result = subprocess.run(
        [sys.executable, '-m', 'sphinx', '-n', '-W', '-q', '-b', 'html', str(ROOT / 'docs'), str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_the_api_reference_renders_the_interfaces_and_their_methods(tmp_path):
    subprocess.run(
        [sys.executable, '-m', 'sphinx', '-q', '-b', 'html', str(ROOT / 'docs'), str(tmp_path)], check=True
    )
    api = (tmp_path / 'api.html').read_text()
    for anchor in ['ISequence', 'ISequence.next', 'IManagedSequence.next_many', 'IManagedSequence.restart']:
        assert f'id="mortar_rdb.interfaces.{anchor}"' in api


def test_the_shipped_inventories_are_what_make_py_writes():
    inventories = ROOT / 'docs' / '_inventories'
    spec = importlib.util.spec_from_file_location('inventories_make', inventories / 'make.py')
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    shipped = {path.stem: path.read_bytes() for path in inventories.glob('*.inv')}
    written = {project: make.inventory(project, *details[1:]) for project, details in make.INVENTORIES.items()}
    assert shipped == written, 'run python docs/_inventories/make.py'


def test_the_readme_gives_two_commands():
    assert len(readme_commands()) == 2


def test_ci_runs_the_readme_test_command_exactly():
    ci_lines = (ROOT / '.ci' / 'run').read_text().splitlines()
    assert readme_commands()[1] in ci_lines


PAGES = [ROOT / 'README.rst', *sorted((ROOT / 'docs').glob('*.rst'))]

#: The only pages allowed code their reader does not see, and why. The
#: tests' own choice of database needs none: conftest.py replaces the
#: visible ``db_url = '...'`` line's URL.
HIDDEN_CODE_ALLOWED = {
    'docs/lifecycle.rst': 'copies docs/example somewhere importable, points its settings at db_url, and undoes both',
}


def rst_comments(text):
    """The comments of a reStructuredText text, each as its lines (directives and targets are not comments)."""
    lines = text.splitlines()
    for number, line in enumerate(lines):
        match = re.match(r'^(\s*)\.\.(?:\s+(.*))?$', line)
        if not match:
            continue
        first = match.group(2) or ''
        if re.match(r'[\w:.-]+::', first) or first.startswith(('_', '|', '[')):
            continue
        indent = len(match.group(1))
        body = [first]
        for following in lines[number + 1 :]:
            if following.strip() and len(following) - len(following.lstrip()) <= indent:
                break
            body.append(following)
        yield body


def hidden_code(text):
    """The comments that hold code the doc tests run: invisible code blocks and doctests."""
    return [
        body
        for body in rst_comments(text)
        if body[0].startswith('invisible-code-block') or any(line.lstrip().startswith('>>>') for line in body)
    ]


def test_hidden_code_is_found_in_comments():
    text = (
        'Text.\n\n..\n   >>> 1 + 1\n   2\n\n'
        '.. invisible-code-block: python\n\n  x = 1\n\n'
        '.. skip: next\n\n.. note::\n\n   >>> 1\n   1\n'
    )
    assert [body[0] for body in hidden_code(text)] == ['', 'invisible-code-block: python']


def test_no_page_hides_code_from_its_reader():
    hiding = {
        str(page.relative_to(ROOT)): len(hidden_code(page.read_text()))
        for page in PAGES
        if hidden_code(page.read_text()) and str(page.relative_to(ROOT)) not in HIDDEN_CODE_ALLOWED
    }
    assert hiding == {}


def test_every_page_that_uses_a_database_url_chooses_it_visibly():
    # The doc tests give the pages no db_url (conftest.py only replaces the
    # one a page assigns), so running them proves this too; this says which
    # page is wrong without running anything.
    missing = [
        str(page.relative_to(ROOT))
        for page in PAGES
        if 'db_url' in re.sub(r'``.*?``', '', page.read_text())
        and not re.search(r"^(>>> |  )db_url = '[^']+'", page.read_text(), re.MULTILINE)
    ]
    assert missing == []


def test_the_pages_never_name_the_tests_database():
    assert [str(page.relative_to(ROOT)) for page in PAGES if '_test_database_url' in page.read_text()] == []


def test_the_readme_renders_without_errors_as_pypi_shows_it():
    # An error (halt_level 2) raises; PyPI shows a README with errors as plain text.
    publish_doctree((ROOT / 'README.rst').read_text(), settings_overrides={'halt_level': 2, 'report_level': 2})
