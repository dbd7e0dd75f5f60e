"""Reading images that exist: what an image holds (dpkg and dist-info records), what two images
hold differently, the CycloneDX SBOM of what one holds, and a wheels image as a PEP 503 index.

Above the engine (it reads through ``Storage`` and the ``Runner``) and below execution and the
workflows (``verify`` compares images with it); it builds nothing.
"""
