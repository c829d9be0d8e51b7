"""benchmarks/soak.py runs and finds nothing wrong with a short soak."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.implementations import BY_ID, IMPLEMENTATIONS

SOAK = Path(__file__).parents[2] / 'benchmarks' / 'soak.py'


# On SQLite, so every implementation that runs there; the soak runs them all
# against every database (docs/guarantees.rst gives its figures).
@pytest.mark.parametrize('implementation', [i.id for i in IMPLEMENTATIONS if 'sqlite' in i.databases])
def test_a_short_soak_reports_no_duplicates(tmp_path, implementation):
    url = f'sqlite:///{tmp_path}/soak.db?timeout=60'
    done = subprocess.run(
        [
            sys.executable,
            str(SOAK),
            '--seconds',
            '1',
            '--processes',
            '2',
            '--url',
            url,
            '--implementation',
            implementation,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    header, row = done.stdout.splitlines()[-2:]
    report = dict(zip(header.split(), row.split(), strict=True))
    assert report['database'] == 'sqlite'
    assert int(report['committed']) > 0
    # Only a gapless sequence can miss a value; the others report '-'.
    missing = '0' if BY_ID[implementation].gapless else '-'
    assert (report['duplicates'], report['missing'], report['lost']) == ('0', missing, '0')
