"""Background jobs (the no-show sweep, forgetting old message keys), run once per tick
across every process that shares the database."""
