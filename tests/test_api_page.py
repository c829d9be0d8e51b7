"""docs/api.rst gives every public module a heading of its own."""
import pkgutil
import re
from itertools import pairwise
from pathlib import Path

import mortar_rdb

API_PAGE = Path(__file__).parent.parent / 'docs' / 'api.rst'


def public_modules():
    names = {'mortar_rdb'}
    for info in pkgutil.walk_packages(mortar_rdb.__path__, prefix='mortar_rdb.'):
        parts = info.name.split('.')[1:]
        if all(not part.startswith('_') or part == '__main__' for part in parts):
            names.add(info.name)
    return names


def headings(text):
    lines = text.splitlines()
    return {
        line
        for line, underline in pairwise(lines)
        if line and re.fullmatch(r'-+', underline) and len(underline) == len(line)
    }


def test_every_public_module_has_a_heading_on_the_api_page():
    assert public_modules() - headings(API_PAGE.read_text()) == set()


def test_every_heading_on_the_api_page_is_a_public_module():
    assert headings(API_PAGE.read_text()) - public_modules() == set()
