"""The waiting list for machines: a maker's wish to be told when a machine frees up."""

from __future__ import annotations

from piccolo.columns import ForeignKey, Serial, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from fabbooking.accounts.tables import Account
from fabbooking.network.tables import Machine, MachineKind, Site


class MachineWish(Table, tablename="machine_wish"):
    """« Tell me if a machine frees up »: one machine, or any machine of a kind at a site,
    between ``start_at`` and ``end_at`` (UTC). ``told_at`` is set once the maker was told
    (told once); a wish whose window is over is spent."""

    id: Serial  # Piccolo's own primary key, declared for the type checker

    maker = ForeignKey(Account, null=False, on_delete=OnDelete.cascade, index=True)
    site = ForeignKey(Site, null=False, on_delete=OnDelete.cascade)
    machine = ForeignKey(Machine, null=True, default=None, on_delete=OnDelete.cascade)
    machine_kind = Varchar(length=20, null=True, default=None, choices=MachineKind)
    start_at = Timestamptz()
    end_at = Timestamptz()
    created_at = Timestamptz(default=TimestamptzNow())
    told_at = Timestamptz(null=True, default=None)
