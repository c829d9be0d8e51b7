import transaction
from sqlalchemy import select

from billing import settings
from billing.customers import Customer
from billing.model import Invoice
from mortar_rdb import get_session, register_session
from mortar_rdb.sequence import get_sequence, register_sequence


def configure() -> None:
    """Run once when the application starts."""
    register_session(settings.db_url)
    with transaction.manager:
        register_sequence('invoice_numbers', get_session())


def send_invoice(customer_name: str, amount: int) -> int:
    """Record an invoice under the next invoice number, and return the number."""
    session = get_session()
    customer = session.scalars(select(Customer).filter_by(name=customer_name)).one_or_none()
    if customer is None:
        customer = Customer(name=customer_name)
    number = get_sequence('invoice_numbers').next(session)
    session.add(Invoice(number=number, customer=customer, amount=amount))
    return number
