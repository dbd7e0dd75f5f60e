"""The OCI/Docker image reference grammar orchestrate's names must fit, checked when a
pipeline or a setting is read rather than by buildah in the middle of a build.

From the distribution reference grammar: a repository path component is lower-case
alphanumerics separated by ``.``, ``_``, ``__`` or dashes; a registry host is a domain or an
IPv4/bracketed IPv6 address with an optional port; a tag is up to 128 word characters, dots
and dashes, not starting with either; a whole name is at most 255 characters.
"""

from __future__ import annotations

import re

COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9a-fA-F:.]+\])(?::[0-9]{{1,5}})?"
_COMPONENT_RE = re.compile(rf"^{COMPONENT}$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_DOMAIN_RE = re.compile(rf"^{_DOMAIN}$")
NAME_MAX = 255
# A node's own name, leaving room for the namespace or registry before it.
COMPONENT_MAX = 128
# The longest tag orchestrate gives (a 20-character key) or a user's, and the ':' before it.
TAG_MAX = 128


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:57] + "...")


def component_problem(name: str) -> str | None:
    """Why ``name`` cannot be one path component of an image name, or None."""
    if len(name) > COMPONENT_MAX:
        return f"{_shown(name)} is {len(name)} characters: image names have at most {COMPONENT_MAX}"
    if not _COMPONENT_RE.match(name):
        return (
            f"{_shown(name)} is not a valid image name: lower-case letters and digits, "
            "separated by '.', '_', '__' or '-' (not at either end)"
        )
    return None


def tag_problem(tag: str) -> str | None:
    """Why ``tag`` cannot be an image tag, or None."""
    if not _TAG_RE.match(tag):
        return (
            f"{_shown(tag)} is not a valid tag: up to 128 letters, digits, '_', '.' and '-', "
            "not starting with '.' or '-'"
        )
    return None


def prefix_problem(prefix: str) -> str | None:
    """Why ``prefix`` cannot stand before ``/<node>`` in an image name (a namespace such as
    ``localhost/orchestrate`` or a registry such as ``registry.example.com:5000/openstack``),
    or None."""
    first, _, rest = prefix.rstrip("/").partition("/")
    # As in the reference grammar, the first part is a host only if it looks like one.
    host = "." in first or ":" in first or first == "localhost" or first.startswith("[")
    parts = (rest.split("/") if rest else []) if host else prefix.rstrip("/").split("/")
    valid = bool(first) and (not host or bool(_DOMAIN_RE.match(first)))
    if not valid or not all(_COMPONENT_RE.match(part) for part in parts):
        return (
            f"{_shown(prefix)} is not a registry or namespace: a host[:port] followed by "
            "/-separated lower-case path components, e.g. registry.example.com/openstack"
        )
    return None


TAG_FIELDS = ("release", "date", "node")


def render_tag(template: str, *, release: str, date: str, node: str) -> str:
    """The tag a tag template gives (a template load refused stays as written)."""
    try:
        return template.format(release=release, date=date, node=node)
    except (KeyError, IndexError, ValueError, AttributeError):
        return template


def tag_template_problem(template: str, *, release: str, node: str) -> str | None:
    """Why the tag template ``template`` (``{release}``, ``{date}``, ``{node}``) cannot
    give a valid tag for ``node``, or None."""
    try:
        tag = template.format(release=release or "0", date="20261127", node=node)
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        return (
            f"tag template {_shown(template)} cannot be filled ({type(exc).__name__}: {exc}); "
            f"it may use {', '.join('{' + f + '}' for f in TAG_FIELDS)}"
        )
    problem = tag_problem(tag)
    return f"tag template {_shown(template)} gives {problem}" if problem else None


def name_problem(prefix: str, node: str) -> str | None:
    """Why ``<prefix>/<node>:<tag>`` would be too long, or None."""
    name = f"{prefix.rstrip('/')}/{node}"
    if len(name) > NAME_MAX:
        return f"image name {name[:60]}... is {len(name)} characters (at most {NAME_MAX})"
    return None
