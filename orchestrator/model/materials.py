"""What a node's image is made from, as its provenance names it: a source with its digest,
the constraints, a parent or wheels image. Planning knows them; an image's digest (its id) is
known only once it is in local storage, so an image material names the image and the
executor fills the digest in (:mod:`orchestrator.provenance.collect`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Material:
    """One resolved dependency of a build (an in-toto ResourceDescriptor, before digests of
    images are known).

    ``digest`` pairs an algorithm with a value (``("sha256", hex)``, ``("gitCommit", sha)``);
    ``image`` names a local image whose id (the sha256 of its config) becomes the digest."""

    name: str
    uri: str = ""
    digest: tuple[tuple[str, str], ...] = ()
    image: str = ""
    annotations: tuple[tuple[str, str], ...] = ()


def identity_digest(identity: str) -> tuple[tuple[str, str], ...]:
    """A fetched source's identity (``sha256:<hex>``, ``git:<commit>``, ``tree:<hex>``) as an
    in-toto digest set."""
    kind, _, value = identity.partition(":")
    match kind:
        case "sha256":
            return (("sha256", value),)
        case "git":
            return (("gitCommit", value),)
        case "tree":
            return (("dirHash", value),)
    return ()
