"""The documentation builds, and the README's commands are the ones CI runs."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def readme_commands():
    return re.findall(r'^  (python3 -m venv .*)$', (ROOT / 'README.rst').read_text(), re.MULTILINE)


def test_the_docs_build_without_warnings(tmp_path):
    result = subprocess.run(
        [sys.executable, '-m', 'sphinx', '-W', '-q', '-b', 'html', str(ROOT / 'docs'), str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_the_readme_gives_two_commands():
    assert len(readme_commands()) == 2


def test_ci_runs_the_readme_test_command_exactly():
    ci_lines = (ROOT / '.ci' / 'run').read_text().splitlines()
    assert readme_commands()[1] in ci_lines
