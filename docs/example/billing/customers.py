from sqlalchemy import Column, Integer, String

from mortar_rdb import declarative_base


class Customer(declarative_base()):
    __tablename__ = 'customers'
    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)
