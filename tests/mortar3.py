"""The sequences table as mortar_rdb 3.0 created it, for upgrade tests."""
from sqlalchemy import create_engine

MORTAR_3_TABLE = 'CREATE TABLE sequences (name VARCHAR(20) NOT NULL, current INTEGER, PRIMARY KEY (name))'


def make_mortar3_table(url, rows=(('invoices', 41),)):
    """Create 3.0's table (``name VARCHAR(20)``, nullable 32-bit ``current``) holding ``rows``."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(MORTAR_3_TABLE)
            for name, current in rows:
                connection.exec_driver_sql(
                    f"INSERT INTO sequences (name, current) VALUES ('{name}', {'NULL' if current is None else current})"
                )
    finally:
        engine.dispose()
