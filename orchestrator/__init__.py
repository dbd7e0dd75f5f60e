"""orchestrate: build the OCI images of an OpenStack cloud with buildah, as one DAG."""

from __future__ import annotations

__version__ = "0.1.0"
