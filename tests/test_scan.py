"""scan() makes a Source of the models a package defines, in it and all its submodules."""
import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, inspect

from mortar_rdb.controlled import Source, scan

from .sample_packages import packages  # noqa: F401

MODEL = """
    from sqlalchemy import Column, Integer
    from mortar_rdb import declarative_base

    class {name}(declarative_base()):
        __tablename__ = '{table}'
        id = Column(Integer, primary_key=True)
"""

extra = Table('extra', MetaData(), Column('id', Integer, primary_key=True))


def table_names(source):
    return set(source.metadata.tables)


def test_it_returns_a_source(packages):  # noqa: F811
    packages.write('shop/__init__.py')
    assert isinstance(scan('shop'), Source)


def test_it_finds_the_models_of_the_package_itself(packages):  # noqa: F811
    packages.write('shop/__init__.py', MODEL.format(name='Order', table='orders'))
    assert table_names(scan('shop')) == {'orders'}


def test_it_finds_the_models_of_every_submodule_at_any_depth(packages):  # noqa: F811
    packages.write('shop/__init__.py')
    packages.write('shop/orders.py', MODEL.format(name='Order', table='orders'))
    packages.write('shop/billing/__init__.py')
    packages.write('shop/billing/invoices.py', MODEL.format(name='Invoice', table='invoices'))
    assert table_names(scan('shop')) == {'orders', 'invoices'}


def test_it_scans_a_single_module(packages):  # noqa: F811
    packages.write('models.py', MODEL.format(name='Order', table='orders'))
    assert table_names(scan('models')) == {'orders'}


def test_it_adds_the_tables_passed_in(packages):  # noqa: F811
    packages.write('shop/__init__.py', MODEL.format(name='Order', table='orders'))
    assert table_names(scan('shop', tables=[extra])) == {'orders', 'extra'}


def test_it_leaves_out_models_imported_from_another_package(packages):  # noqa: F811
    packages.write('elsewhere.py', MODEL.format(name='Customer', table='customers'))
    imported = '    from elsewhere import Customer\n'
    packages.write('shop/__init__.py', MODEL.format(name='Order', table='orders') + imported)
    assert table_names(scan('shop')) == {'orders'}


def test_it_leaves_out_plain_tables_that_are_not_passed_in(packages):  # noqa: F811
    packages.write(
        'shop/__init__.py',
        """
        from sqlalchemy import Column, Integer, MetaData, Table
        audit = Table('audit', MetaData(), Column('id', Integer, primary_key=True))
        """,
    )
    assert table_names(scan('shop')) == set()


def test_it_names_a_passed_in_table_that_is_not_one(packages):  # noqa: F811
    packages.write('shop/__init__.py')
    with pytest.raises(TypeError, match=r"^'audit' must be a Table object or a declaratively mapped model class\.$"):
        scan('shop', tables=[extra, 'audit'])


def test_a_table_shared_by_inheriting_models_is_taken_once(packages):  # noqa: F811
    packages.write(
        'shop/__init__.py',
        MODEL.format(name='Order', table='orders')
        + """
    class RushOrder(Order):
        pass
    """,
    )
    assert table_names(scan('shop')) == {'orders'}


def test_a_model_module_can_scan_its_own_package_while_a_submodule_imports_from_it(packages):  # noqa: F811
    packages.write('shop/__init__.py')
    packages.write(
        'shop/model.py',
        MODEL.format(name='Order', table='orders')
        + """
    from mortar_rdb.controlled import Config, scan
    config = Config(scan('shop'))
    """,
    )
    packages.write('shop/db.py', 'from shop.model import config\n')
    from shop.model import config

    assert config.tables == {'orders'}


def test_it_does_not_run_a_packages_command_line(packages):  # noqa: F811
    packages.write('shop/__init__.py', MODEL.format(name='Order', table='orders'))
    packages.write('shop/__main__.py', 'raise SystemExit("the command line ran")\n')
    assert table_names(scan('shop')) == {'orders'}


def test_a_submodule_that_fails_to_import_is_not_hidden(packages):  # noqa: F811
    packages.write('shop/__init__.py')
    packages.write('shop/broken.py', 'import a_module_nobody_installed\n')
    with pytest.raises(ModuleNotFoundError, match='a_module_nobody_installed'):
        scan('shop')


def test_an_unknown_package_is_an_import_error():
    with pytest.raises(ModuleNotFoundError, match='no_such_package'):
        scan('no_such_package')


def test_the_scanned_tables_can_be_created(packages, db_url):  # noqa: F811
    packages.write('shop/__init__.py')
    packages.write('shop/orders.py', MODEL.format(name='Order', table='orders'))
    packages.write('shop/billing.py', MODEL.format(name='Invoice', table='invoices'))
    engine = create_engine(db_url)
    scan('shop').create(engine)
    names = set(inspect(engine).get_table_names())
    engine.dispose()
    assert names == {'orders', 'invoices'}
