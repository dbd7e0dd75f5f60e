"""What outlives a run: the SQLite history, live and dead runs, resume, prune and the
housekeeping they share."""
