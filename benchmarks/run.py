"""Run the benchmark suite: ``python benchmarks/run.py [--quick] [--db NAME ...]``.

Every workload (see ``workloads.py``) runs for every implementation (see
``implementations.py``) on each database: SQLite always (a file on tmpfs
where there is one, so the disk's fsync is not what is measured), and
PostgreSQL and MariaDB when $MORTAR_RDB_TEST_POSTGRESQL and
$MORTAR_RDB_TEST_MARIADB give their URLs. Runs of the implementations
alternate, so a change in the machine's load hits them all alike; the table
gives the median, minimum and maximum of the runs.

It writes rows named ``bench_*`` in the ``sequences`` table (creating the
table if missing) and a ``bench_taken`` table: use scratch databases.
"""
from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import environment  # noqa: E402
import workloads  # noqa: E402
from sqlalchemy import Engine, create_engine  # noqa: E402

from implementations import IMPLEMENTATIONS, RAW, Implementation  # noqa: E402

SERVERS = {'postgresql': 'MORTAR_RDB_TEST_POSTGRESQL', 'mariadb': 'MORTAR_RDB_TEST_MARIADB'}
WORKLOADS = ('W1', 'W2', 'W2c', 'W3')
UNITS = {'W1': 'us/call', 'W2': 'values/s', 'W2c': 'values/s', 'W3': 'commits/s'}


def sqlite_url() -> str:
    """A new SQLite file, removed when the suite ends."""
    directory = tempfile.mkdtemp(prefix='mortar_rdb_bench_', dir='/dev/shm' if os.path.isdir('/dev/shm') else None)
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return f'sqlite:///{Path(directory) / "bench.db"}?timeout=60'


def database_urls(chosen: list[str] | None) -> dict[str, str]:
    urls = {'sqlite': sqlite_url()}
    urls.update({name: os.environ[variable] for name, variable in SERVERS.items() if os.environ.get(variable)})
    if chosen:
        missing = [name for name in chosen if name not in urls]
        if missing:
            raise SystemExit(f'No URL for {", ".join(missing)}: set {", ".join(SERVERS[name] for name in missing)}.')
        urls = {name: urls[name] for name in chosen}
    return urls


def measure(
    engine: Engine,
    url: str,
    implementations: list[Implementation],
    chosen: tuple[str, ...],
    sizes: workloads.Sizes,
    runs: int,
) -> dict[tuple[str, str], list[float] | str]:
    """Every figure for one database: (workload, label) -> the runs' figures, or why it failed."""
    figures: dict[tuple[str, str], list[float] | str] = {}
    team = workloads.ProcessTeam(url, sizes.processes) if 'W3' in chosen else None
    try:
        for workload in chosen:
            for run in range(runs):
                for implementation in implementations:
                    key = (workload, implementation.label)
                    if isinstance(figures.get(key), str):
                        continue  # it failed once already
                    try:
                        figure = _one(workload, engine, implementation, sizes, team, run)
                    except Exception as error:
                        figures[key] = f'FAILED: {type(error).__name__}: {error}'.splitlines()[0][:100]
                    else:
                        figures.setdefault(key, []).append(figure)  # type: ignore[union-attr]
                    print('.', end='', flush=True, file=sys.stderr)
    finally:
        if team is not None:
            team.close()
    print(file=sys.stderr)
    return figures


def _one(
    workload: str,
    engine: Engine,
    implementation: Implementation,
    sizes: workloads.Sizes,
    team: workloads.ProcessTeam | None,
    run: int,
) -> float:
    if team is not None and workload == 'W3':
        return workloads.w3(engine, implementation, sizes, team, run)
    run_workload: Callable[..., float] = getattr(workloads, workload.lower())
    return run_workload(engine, implementation, sizes)


def _speed(workload: str, mine: float, other: float) -> float:
    """How many times faster ``mine`` is than ``other``: W1 is a time per call, the rest throughput."""
    return other / mine if workload == 'W1' else mine / other


def table(
    figures: dict[tuple[str, str], list[float] | str], implementations: list[Implementation], chosen: tuple[str, ...]
) -> str:
    header = (
        f'{"workload":8} {"implementation":14} {"median":>12} {"min":>12} {"max":>12} {"unit":10}'
        f' {"x raw":>7} {"x generic":>9}'
    )
    lines = [header, '-' * len(header)]
    for workload in chosen:
        medians = {
            label: statistics.median(runs)
            for (w, label), runs in figures.items()
            if w == workload and isinstance(runs, list)
        }
        for implementation in implementations:
            runs = figures.get((workload, implementation.label))
            if runs is None:
                continue
            name = f'{workload:8} {implementation.label:14}'
            if isinstance(runs, str):
                lines.append(f'{name} {runs}')
                continue
            median = medians[implementation.label]
            versus = [
                f'{_speed(workload, median, medians[other]):.2f}' if other in medians else '-'
                for other in (RAW, 'generic')
            ]
            figures_shown = ' '.join(_number(figure) for figure in (median, min(runs), max(runs)))
            lines.append(f'{name} {figures_shown} {UNITS[workload]:10} {versus[0]:>7} {versus[1]:>9}')
    if 'W1' in chosen:
        per_second = [
            f'{label} {1e6 / statistics.median(runs):,.0f}'
            for (workload, label), runs in figures.items()
            if workload == 'W1' and isinstance(runs, list)
        ]
        lines.append('W1 as values/s (median): ' + ', '.join(per_second))
    return '\n'.join(lines)


def _number(figure: float) -> str:
    return f'{figure:12,.2f}' if figure < 100 else f'{figure:12,.0f}'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python benchmarks/run.py', description=__doc__.split('\n')[0])
    parser.add_argument('--db', action='append', choices=['sqlite', *SERVERS], help='only this database (repeatable)')
    parser.add_argument('--quick', action='store_true', help='smaller workloads and 3 runs: a smoke test, not figures')
    parser.add_argument('--runs', type=int, help='runs per figure (default 5, or 3 with --quick)')
    parser.add_argument('--workload', action='append', choices=WORKLOADS, help='only this workload (repeatable)')
    parser.add_argument(
        '--impl',
        action='append',
        choices=[i.label for i in IMPLEMENTATIONS],
        help='only this implementation (repeatable)',
    )
    arguments = parser.parse_args(argv)
    sizes = workloads.QUICK if arguments.quick else workloads.FULL
    runs = arguments.runs or (3 if arguments.quick else 5)
    chosen = tuple(arguments.workload or WORKLOADS)
    started = time.monotonic()
    print(f'software: {environment.software()}')
    print(f'machine:  {environment.machine()}')
    print(f'runs: {runs} per figure; sizes: {sizes}')
    for url in database_urls(arguments.db).values():
        engine = create_engine(url)
        try:
            print(f'\n== {environment.server(engine)}', flush=True)  # connects: applies() may need the server version
            implementations = [
                implementation
                for implementation in IMPLEMENTATIONS
                if implementation.applies(engine) and (not arguments.impl or implementation.label in arguments.impl)
            ]
            figures = measure(engine, url, implementations, chosen, sizes, runs)
            print(table(figures, implementations, chosen), flush=True)
        finally:
            engine.dispose()
    print('\nx raw / x generic: how many times faster than the raw driver / the generic implementation')
    print(f'(W1 compares time per call, the others throughput). Total time: {time.monotonic() - started:.0f} s;')
    print(f'machine load average at the end: {environment.machine().rsplit("load average ", 1)[1]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
