"""Which process ran which background job for which tick."""

from piccolo.columns import BigInt, Timestamptz, Varchar
from piccolo.table import Table


class JobRun(Table, tablename="job_run"):
    """One row per job and tick, claimed by the process that runs it; (job, tick) is unique
    (index in the migration), so a second process finds the tick taken and skips it."""

    job = Varchar(length=60)
    tick = BigInt()
    ran_at = Timestamptz()
