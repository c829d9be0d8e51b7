"""The sequences table in an application's Alembic migrations."""
import io
import textwrap

import pytest
import transaction
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

import mortar_rdb.sequence
from mortar_rdb import get_session, register_session
from mortar_rdb.sequence import get_sequence, register_sequence
from mortar_rdb.sequence.errors import OfflineMigrationUnsupported
from tests.helpers import make_mortar3_table

ENV = '''
from alembic import context
from sqlalchemy import create_engine

import mortar_rdb.sequence

url = context.config.get_main_option('sqlalchemy.url')
if context.is_offline_mode():
    context.configure(url=url, literal_binds=True, target_metadata=[mortar_rdb.sequence.metadata])
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=[mortar_rdb.sequence.metadata])
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()
'''

WITH_HELPER = '''
from alembic import op
from mortar_rdb.sequence.schema import create_or_upgrade_table

revision = 'a1'
down_revision = None


def upgrade():
    create_or_upgrade_table(op.get_bind())


def downgrade():
    op.drop_table('sequences')
'''

WITH_OPERATION = '''
from alembic import op
import mortar_rdb.sequence.alembic_ops

revision = 'a1'
down_revision = None


def upgrade():
    op.ensure_sequences_table()


def downgrade():
    op.drop_table('sequences')
'''


CREATING_ONLY = '''
from alembic import op
from mortar_rdb.sequence.generic import sequences

revision = 'a1'
down_revision = None


def upgrade():
    sequences.create(op.get_bind())


def downgrade():
    op.drop_table('sequences')
'''


def alembic_config(tmp_path, url, revision):
    scripts = tmp_path / 'migrations'
    (scripts / 'versions').mkdir(parents=True)
    (scripts / 'env.py').write_text(ENV)
    (scripts / 'script.py.mako').write_text('')
    (scripts / 'versions' / 'a1_sequences.py').write_text(textwrap.dedent(revision))
    config = Config(output_buffer=io.StringIO())
    config.set_main_option('script_location', str(scripts))
    config.set_main_option('sqlalchemy.url', url.replace('%', '%%'))
    return config


def next_value(url, name='invoices'):
    register_session(url)
    with transaction.manager:
        register_sequence(name, get_session())
    with transaction.manager:
        return get_sequence(name).next(get_session())


@pytest.mark.parametrize('revision', [WITH_HELPER, WITH_OPERATION], ids=['helper', 'operation'])
def test_a_migration_creates_the_sequences_table(db_url, tmp_path, revision):
    command.upgrade(alembic_config(tmp_path, db_url, revision), 'head')
    assert next_value(db_url) == 1


@pytest.mark.parametrize('revision', [WITH_HELPER, WITH_OPERATION], ids=['helper', 'operation'])
def test_a_migration_upgrades_a_mortar3_table_keeping_its_values(db_url, tmp_path, revision):
    make_mortar3_table(db_url)
    command.upgrade(alembic_config(tmp_path, db_url, revision), 'head')
    assert next_value(db_url) == 42


@pytest.mark.parametrize('revision', [WITH_HELPER, WITH_OPERATION], ids=['helper', 'operation'])
def test_offline_mode_is_refused_saying_what_to_do(db_url, tmp_path, revision):
    with pytest.raises(OfflineMigrationUnsupported, match=r"offline mode \(--sql\).*Run the migration online"):
        command.upgrade(alembic_config(tmp_path, db_url, revision), 'head', sql=True)


def test_the_offline_advice_writes_the_sql_that_creates_the_table(db_url, tmp_path):
    config = alembic_config(tmp_path, db_url, CREATING_ONLY)
    command.upgrade(config, 'head', sql=True)
    assert 'CREATE TABLE sequences' in config.output_buffer.getvalue()


def test_a_migration_can_be_downgraded(db_url, tmp_path):
    config = alembic_config(tmp_path, db_url, WITH_HELPER)
    command.upgrade(config, 'head')
    command.downgrade(config, 'base')
    engine = create_engine(db_url)
    try:
        assert not inspect(engine).has_table('sequences')
    finally:
        engine.dispose()


def autogenerate_differences(url):
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return compare_metadata(MigrationContext.configure(connection), mortar_rdb.sequence.metadata)
    finally:
        engine.dispose()


def test_autogenerate_sees_the_exported_metadata_and_proposes_the_table(db_url):
    differences = autogenerate_differences(db_url)
    assert [(kind, table.name) for kind, table in differences] == [('add_table', 'sequences')]


def test_autogenerate_finds_nothing_to_do_after_the_migration(db_url, tmp_path):
    command.upgrade(alembic_config(tmp_path, db_url, WITH_HELPER), 'head')
    assert autogenerate_differences(db_url) == []


def test_autogenerate_finds_nothing_to_do_after_upgrading_a_mortar3_table(db_url, tmp_path):
    make_mortar3_table(db_url)
    command.upgrade(alembic_config(tmp_path, db_url, WITH_HELPER), 'head')
    assert autogenerate_differences(db_url) == []
