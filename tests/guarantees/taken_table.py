"""The ``taken`` table: each committed value, written by the transaction that took it.

A primary key on (name, value) makes a duplicate fail loudly in the worker
that commits it.
"""
from sqlalchemy import BigInteger, Column, MetaData, String, Table

taken_metadata = MetaData()
taken = Table(
    'taken',
    taken_metadata,
    Column('name', String(255), primary_key=True),
    Column('value', BigInteger, primary_key=True, autoincrement=False),
)
