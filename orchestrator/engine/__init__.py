"""Talking to buildah and podman: :mod:`.buildah` writes every argv and names every container
and candidate (pure), :mod:`.process` runs commands through ``sh`` (the only module that
imports it)."""
