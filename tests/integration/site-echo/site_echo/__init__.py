"""A site's echo service (a test fixture)."""
