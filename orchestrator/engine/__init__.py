"""Talking to buildah and podman: :mod:`.buildah` writes every argv (pure), :mod:`.naming`
names every container and candidate (pure), :mod:`.storage` queries and tidies local image
storage through a runner, :mod:`.runner` runs commands through ``sh`` (the only module that
imports it)."""
