from sqlalchemy import Column, ForeignKey, Integer
from sqlalchemy.orm import relationship

from mortar_rdb import declarative_base
from mortar_rdb.controlled import Config, scan
from mortar_rdb.sequence.generic import source as sequences_source

Base = declarative_base()


class Invoice(Base):
    __tablename__ = 'invoices'
    number = Column(Integer, primary_key=True, autoincrement=False)
    customer_id = Column(Integer, ForeignKey('customers.id'), nullable=False)
    amount = Column(Integer, nullable=False)
    customer = relationship('Customer')


source = scan('billing')
config = Config(source, sequences_source)
