"""What the built distributions carry."""
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).parent.parent


def build(kind, tmp_path):
    """Build the ``kind`` ('wheel' or 'sdist') of the project with the installed setuptools; return its path."""
    code = (
        'import sys, setuptools.build_meta as backend; '
        f'print(backend.build_{kind}(sys.argv[1]))'
    )
    result = subprocess.run(
        [sys.executable, '-c', code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return tmp_path / result.stdout.strip().splitlines()[-1]


def test_the_wheel_carries_the_mit_license(tmp_path):
    with zipfile.ZipFile(build('wheel', tmp_path)) as wheel:
        names = wheel.namelist()
        metadata = wheel.read(next(name for name in names if name.endswith('.dist-info/METADATA'))).decode()
        license_text = wheel.read(next(name for name in names if name.endswith('/licenses/LICENSE'))).decode()
    assert 'License-Expression: MIT' in metadata
    assert 'the mortar_rdb 4 authors' in license_text


def test_the_sdist_carries_the_license(tmp_path):
    with tarfile.open(build('sdist', tmp_path)) as sdist:
        assert any(name.endswith('/LICENSE') for name in sdist.getnames())
