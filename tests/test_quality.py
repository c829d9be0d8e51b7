"""The code is typed and clean: mypy and ruff pass, as configured in pyproject.toml."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def run(*command):
    return subprocess.run([sys.executable, '-m', *command], cwd=ROOT, capture_output=True, text=True)


def test_mypy_finds_no_type_errors():
    result = run('mypy')
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_finds_no_lint():
    result = run('ruff', 'check')
    assert result.returncode == 0, result.stdout + result.stderr
