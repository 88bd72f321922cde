from __future__ import annotations

from piccolo.columns import Array, Date, ForeignKey, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from fabbooking.accounts.tables import Account


class Training(Table, tablename="training"):
    """A training such as « Découpe laser – initiation ».

    It unlocks every machine whose kind is in ``unlocks_kinds`` and every machine
    that names it as its required training.
    """

    name = Varchar(length=150)
    slug = Varchar(length=80, unique=True)
    description = Text(default="")
    unlocks_kinds = Array(base_column=Varchar(length=30), default=list)


class Qualification(Table, tablename="qualification"):
    """A training validated for a maker, valid at every site of the network."""

    account = ForeignKey(Account, null=False, index=True)
    training = ForeignKey(Training, null=False)
    granted_on = Date()
    granted_by = ForeignKey(Account, null=True, on_delete=OnDelete.set_null)
    granted_at_site = Varchar(length=80, default="")
    expires_on = Date(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
