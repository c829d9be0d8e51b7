"""Throughput on a Galera cluster: ``python benchmarks/galera.py [--seconds S] [--rounds N]``.

Takes the nodes' URLs from $MORTAR_RDB_TEST_GALERA (comma-separated; ``.ci/galera``
prints them) and runs, for each choice, 3 application threads per node, each
transaction taking one value and storing it under a primary key
(tests/clusters/galera_load.py):

- ``raw``: the raw driver (PyMySQL) storing a value from a counter in the
  process, the same INSERT and COMMIT without a sequence: the baseline;
- ``generic``, ``pooled``, ``native``: every node takes values;
- ``generic routed``: every session's ``sequences`` table is routed to the
  first node with ``binds=``, the application's table stays on its node;
- ``generic one node``: every thread's whole transaction goes to the first
  node (the others stay idle).

Prints committed transactions per second, the ratio to ``raw`` in the same
round, and the attempts that failed and were retried (certification
failures) or that failed 20 times over. Rounds alternate the choices; the
table gives the median. It empties the cluster's database: use a scratch one.
"""
from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pymysql  # noqa: E402
from sqlalchemy import make_url  # noqa: E402

from tests.clusters import galera_load  # noqa: E402

CHOICES = ['raw', 'generic', 'generic routed', 'generic one node', 'pooled', 'native']


def raw(urls: list[str], seconds: float, threads_per_node: int) -> galera_load.Outcome:
    counter = itertools.count(1)
    lock = threading.Lock()
    outcome = galera_load.Outcome(seconds)
    stop = threading.Event()

    def work(url: str) -> None:
        parsed = make_url(url)
        connection = pymysql.connect(host=parsed.host, port=parsed.port, user=parsed.username, database=parsed.database)
        cursor = connection.cursor()
        node = urls.index(url)
        while not stop.is_set():
            with lock:
                value = next(counter)
            cursor.execute('INSERT INTO galera_taken (value, node) VALUES (%s, %s)', (value, node))
            connection.commit()
            with lock:
                outcome.committed += 1
        connection.close()

    threads = [threading.Thread(target=work, args=(url,)) for url in urls for _ in range(threads_per_node)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    outcome.seconds = time.monotonic() - started
    return outcome


def measure(urls: list[str], choice: str, seconds: float, threads_per_node: int) -> galera_load.Outcome:
    implementation = choice.split()[0]
    galera_load.prepare(urls, 'generic' if implementation == 'raw' else implementation)
    if implementation == 'raw':
        return raw(urls, seconds, threads_per_node)
    if choice.endswith('one node'):
        urls = [urls[0]] * len(urls)
    return galera_load.run(urls, implementation, seconds, threads_per_node, routed=choice.endswith('routed'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=10)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--threads-per-node', type=int, default=3)
    arguments = parser.parse_args()
    urls = [url for url in os.environ.get('MORTAR_RDB_TEST_GALERA', '').split(',') if url]
    if len(urls) < 2:
        sys.exit('Set MORTAR_RDB_TEST_GALERA to the URLs of the nodes, comma-separated (.ci/galera prints them).')
    rates: dict[str, list[float]] = {choice: [] for choice in CHOICES}
    ratios: dict[str, list[float]] = {choice: [] for choice in CHOICES}
    retried: dict[str, Counter[str]] = {choice: Counter() for choice in CHOICES}
    failed: dict[str, Counter[str]] = {choice: Counter() for choice in CHOICES}
    committed: Counter[str] = Counter()
    for _ in range(arguments.rounds):
        baseline = None
        for choice in CHOICES:
            outcome = measure(urls, choice, arguments.seconds, arguments.threads_per_node)
            baseline = baseline or outcome.per_second
            rates[choice].append(outcome.per_second)
            ratios[choice].append(outcome.per_second / baseline)
            retried[choice].update(outcome.retried)
            failed[choice].update(outcome.failed)
            committed[choice] += outcome.committed
    print(f'{len(urls)} nodes, {arguments.threads_per_node} threads per node, '
          f'{arguments.rounds} rounds of {arguments.seconds:g} s; median of the rounds')
    print(f'{"choice":<16}{"commits/s":>10}{"x raw":>8}{"retried/commit":>16}{"failed":>9}  errors')
    for choice in CHOICES:
        errors = ', '.join(f'{name}: {count}' for name, count in (retried[choice] + failed[choice]).most_common())
        print(
            f'{choice:<16}{statistics.median(rates[choice]):>10.0f}{statistics.median(ratios[choice]):>8.2f}'
            f'{sum(retried[choice].values()) / max(committed[choice], 1):>16.3f}'
            f'{sum(failed[choice].values()) / max(committed[choice] + sum(failed[choice].values()), 1):>8.2%}'
            f'  {errors}'
        )


if __name__ == '__main__':
    main()
