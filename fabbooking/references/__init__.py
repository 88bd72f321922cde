"""References: the facts that every booking rests on and that seldom change — a machine with
its site's rules and calendar, the trainings a maker holds, the account behind an API token —
kept per process while the database's change counters for their tables stand still."""
