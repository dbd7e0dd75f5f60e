"""Data and its validation: pipeline, catalog and profile files, the option table, the
request a command makes, the resolved pipeline, plan inputs, node kinds and states, results.
Imports nothing else of orchestrate but errors and redaction."""
