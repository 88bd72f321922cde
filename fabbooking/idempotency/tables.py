from piccolo.columns import ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from fabbooking.accounts.tables import Account


class FirstAnswer(Table, tablename="first_answer"):
    """The answer given to an account's first request under an Idempotency-Key: a retry
    with the same key and the same request gets it again, and nothing is done twice.
    ``scoped_key`` is the account's id and the key; ``fingerprint`` the request's hash."""

    scoped_key = Varchar(length=300, unique=True)
    account = ForeignKey(Account, on_delete=OnDelete.cascade, index=True)
    fingerprint = Varchar(length=64)
    status = Integer()
    body = Text()
    created_at = Timestamptz(index=True)
