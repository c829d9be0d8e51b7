"""The command line's house rules: it renders facts, it does not re-derive them."""
import re
from pathlib import Path

import mortar_rdb.sequence as package

SEQUENCE = Path(package.__file__).parent
CLI_FILES = sorted((SEQUENCE / '_cli').glob('*.py'))


def test_the_command_line_reads_no_driver_code():
    """Driver errors become ours in one place (_cursor.PerEngine.translated, _dialects/codes.py)."""
    reading = re.compile(r'\b(codes_for|meaning|Meaning|sqlstate|pgcode|sqlite_errorcode)\b')
    assert [path.name for path in CLI_FILES if reading.search(path.read_text())] == []


def test_the_command_line_has_no_branch_per_database():
    """Per-database facts (waits, drivers, files) live in _dialects/."""
    branch = re.compile(r"""(==|!=|\bin)\s*\(?['"](sqlite|postgresql|mysql|mariadb)['"]""")
    assert [path.name for path in CLI_FILES if branch.search(path.read_text())] == []


def test_the_command_lines_files_and_the_errors_stay_small():
    sizes = {path.name: len(path.read_text().splitlines()) for path in [*CLI_FILES, SEQUENCE / 'errors.py']}
    assert {name: lines for name, lines in sizes.items() if lines > 400} == {}
