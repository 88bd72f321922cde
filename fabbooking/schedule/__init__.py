"""The network's schedule: every machine's free stretches for one day, across the sites."""
