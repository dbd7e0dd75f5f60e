"""What people and machines are shown: live progress, the end-of-run summary, JSON, JUnit,
the HTML report, history tables."""
