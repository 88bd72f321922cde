"""The booking benches' makers, made in bulk by the measured checkout's own code (imported
inside that checkout's process): accounts holding every training, one API token each.

They share the demo makers' password hash: hashing 600,000 rounds per maker would take
minutes, and the benches never log them in."""

from __future__ import annotations

from datetime import date

from fabbooking.accounts.services import issue_token
from fabbooking.accounts.tables import Account
from fabbooking.database import DB
from fabbooking.training.tables import Qualification, Training


async def bench_makers(count: int) -> list[str]:
    """The tokens of ``count`` new makers."""
    template = await Account.select(Account.password).where(Account.username == "yannick").first()
    granter = await Account.select(Account.id).where(Account.username == "gwen").first()
    trainings = [row["id"] for row in await Training.select(Training.id)]
    names = [f"bench-maker-{i:05d}" for i in range(count)]
    async with DB.transaction():
        for chunk in range(0, count, 100):
            await Account.insert(*[Account(username=name, password=template["password"], role="maker",
                                           active=True, display_name=name)
                                   for name in names[chunk:chunk + 100]])
        ids = {row["username"]: row["id"] for row in await Account.select(Account.id, Account.username)
               .where(Account.username.is_in(names))}
        for chunk in range(0, count, 100):
            await Qualification.insert(*[
                Qualification(account=ids[name], training=training, granted_on=date.today(),
                              granted_by=granter["id"], granted_at_site="fabriques-du-ponant")
                for name in names[chunk:chunk + 100] for training in trainings])
        return [await issue_token(ids[name], "bench") for name in names]
