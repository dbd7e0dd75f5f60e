"""The loading step: find and validate the pipeline, fetch sources, and read everything
planning needs from disk, once."""
