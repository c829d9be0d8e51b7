"""docs/guarantees.rst names, for each statement, the test that proves it."""
import ast
import re
from pathlib import Path

HERE = Path(__file__).parent
PAGE = HERE.parent.parent / 'docs' / 'guarantees.rst'


def test_every_test_the_guarantees_page_names_exists():
    named = set(re.findall(r'``(test_\w+)``', PAGE.read_text()))
    defined = {
        node.name
        for path in HERE.parent.rglob('test_*.py')
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef)
    }
    assert named, 'the page names no tests'
    assert named <= defined, sorted(named - defined)
