"""``orchestrate verify``: rebuild a run's images from nothing and compare, as
reproducible-builds tooling does.

The run's stored request is planned again with the run's own start time (so the base's refresh
period and every image's date are the same), in a scratch image storage and state directory
of its own, with ``--no-cache``, no push, and apt held to the package versions each original
image holds (``apt_pins``: a mirror that moved on fails the node by name instead of silently
installing newer packages). Then, node by node:

- a key that differs means the inputs changed (pipeline, constraints, sources, orchestrate):
  that node cannot be compared, and the inputs that differ are named;
- the same key and the same image id: identical, bit for bit (the id is the digest of the
  image's config, which holds the digest of every layer);
- otherwise both images are read and what differs is listed: files (type, mode, owner,
  content), packages, Python distributions, and the image config.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestrator.engine import buildah, layers, naming, storageconf
from orchestrator.engine.runner import Runner
from orchestrator.engine.storage import Storage
from orchestrator.errors import ConfigError, OrchestrateError
from orchestrator.execution.run import execute, prepare
from orchestrator.inspection import image_diff
from orchestrator.inspection.image_contents import deb_packages
from orchestrator.loading.load import find_pipeline, load
from orchestrator.model.request import Request
from orchestrator.model.results import RunResult
from orchestrator.records.history import History, NodeRecord, RunRecord
from orchestrator.records.housekeeping import find_record

IDENTICAL = "identical"
DIFFERENT = "different"
INPUTS_CHANGED = "inputs changed"
NOT_REBUILT = "not rebuilt"

# Makes a runner whose commands use the image storage of a storage.conf (None: the host's):
# ShRunner itself, or a test's fake.
RunnerOn = Callable[[Path | None], Runner]


@dataclass(frozen=True)
class Target:
    """What to verify: a run's nodes that ended with an image (built or reused)."""

    record: RunRecord
    originals: Mapping[str, NodeRecord]
    # The rebuild's --only (an image's node), or () for the run's own selection.
    only: tuple[str, ...] = ()


@dataclass
class Verdict:
    """One node: the original and rebuilt image ids, and what differs."""

    node: str
    result: str
    original_id: str
    rebuilt_id: str = ""
    why: str = ""
    diff: image_diff.ImageDiff | None = None
    config: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    # The node's own layer: its archive entries' headers (times, owners, links, extended
    # headers) where they differ, and whether the entries come in another order.
    entries: image_diff.Changes = field(default_factory=image_diff.Changes)
    entry_order: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "node": self.node,
            "result": self.result,
            "original": self.original_id,
            "rebuilt": self.rebuilt_id,
            "why": self.why,
            "config": {k: {"a": a, "b": b} for k, (a, b) in self.config.items()},
            "contents": self.diff.as_dict() if self.diff is not None else None,
            "layer_entries": self.entries.as_dict(),
            "layer_entry_order_differs": self.entry_order,
        }


def find_target(history: History, storage: Storage, what: str | None) -> Target:
    """The newest run, a run by id (or ``latest``), or the run that built a local image (else
    the newest run that reused it).

    Raises:
        ConfigError: no such run or image, the image was not built by orchestrate here, or
            the run made no image.
    """
    only: tuple[str, ...] = ()
    if what is None or what == "latest" or history.run(what) is not None:
        record = find_record(history, what or "latest")
    else:
        key = storage.image_key(what)
        if key is None:
            raise ConfigError(
                "RUN|IMAGE", "", f"{what} is no run in {history.path} and no local image"
            )
        # The run that built it (its date dates the image), else the newest that reused it.
        built = history.build_of(key) if key else None
        found = history.run(built.run_id) if built is not None else None
        node = built.node if built is not None else ""
        if found is None:
            reused = history.newest_with_key(key) if key else None
            found = history.run(reused.run_id) if reused is not None else None
            node = reused.node if reused is not None else ""
        if found is None:
            raise ConfigError(
                "RUN|IMAGE", "", f"{what} was not built by orchestrate with this state directory"
            )
        record, only = found, (node,)
    originals = {
        n.node: n
        for n in history.nodes(record.id)
        if n.status.ok and n.image_id and (not only or n.node in only)
    }
    if not originals:
        raise ConfigError("RUN|IMAGE", "", f"run {record.id} made no image to verify")
    return Target(record=record, originals=originals, only=only)


def original_storage(record: RunRecord, environ: Mapping[str, str]) -> Path | None:
    """The storage.conf of the run's own ``storage_root``, if it had one."""
    stored = dict(record.options)
    stored.setdefault("pipeline", record.pipeline)
    request = Request.restored(stored, environ=environ)
    resolved = load(find_pipeline(request.pipeline), request.profiles_dir)
    root = request.settings(resolved.pipeline.settings).storage_root
    return storageconf.conf_path(Path(root)) if root else None


def write_pins(target: Target, storage: Storage, folder: Path, *, run_id: str) -> None:
    """``<node>.txt``: ``package=version`` of every package each original image holds.

    Raises:
        ConfigError: an original image is no longer in local storage.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for node, original in target.originals.items():
        image = _local(storage, original)
        with storage.mounted(image, naming.container_name(run_id, f"pins-{node}")) as root:
            lines = sorted(f"{p.name}={p.version}" for p in deb_packages(root))
        (folder / f"{node}.txt").write_text("".join(f"{line}\n" for line in lines))


def rebuild_request(target: Target, scratch: Path, environ: Mapping[str, str]) -> Request:
    """The run's stored request, cold, in ``scratch``, pushing and signing nothing."""
    stored = dict(target.record.options)
    stored.setdefault("pipeline", target.record.pipeline)
    request = Request.restored(stored, environ=environ).without(
        "no_cache_for", "summary_json", "junit", "dry_run", "skip", "match", "only"
    )
    overrides: dict[str, Any] = {
        "state_dir": str(scratch / "state"),
        "storage_root": str(scratch / "storage"),
        "apt_pins": str(scratch / "pins"),
        "no_cache": True,
        "push": False,
        "registry": "",
        "sign_by": "",
        "provenance_key": "",
        "progress": "plain",
    }
    selection = target.only or tuple(target.originals)
    overrides["only"] = (",".join(selection),)
    return request.with_overrides(overrides)


def verify(
    target: Target,
    runner_on: RunnerOn,
    *,
    state_dir: Path,
    environ: Mapping[str, str],
    keep: bool = False,
) -> tuple[list[Verdict], RunResult | None, Path]:
    """Rebuild ``target`` in a scratch storage under ``state_dir`` and compare each node,
    through runners ``runner_on`` makes: one on the run's own storage (its ``storage_root``,
    else the host's), one on the scratch storage.

    Returns the verdicts, the rebuild's result (None when no node could be rebuilt) and the
    scratch folder (removed unless ``keep``).
    """
    run_storage = Storage(runner_on(original_storage(target.record, environ)))
    (state_dir / "verify").mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"{target.record.id}-", dir=state_dir / "verify"))
    scratch_storage = Storage(runner_on(storageconf.conf_path(scratch / "storage")))
    result: RunResult | None = None
    try:
        write_pins(target, run_storage, scratch / "pins", run_id=scratch.name)
        request = rebuild_request(target, scratch, environ)
        started = datetime.fromtimestamp(target.record.started, UTC)
        # The request's storage_root is the scratch storage: prepare makes it.
        # refresh: updates: the archive read as a run reads it (its indexes cached in the
        # state directory), each node's archive input naming the versions its original
        # image holds (the pins), so its key is the original's.
        prepared = prepare(request, now=started, archive_dir=state_dir / "archive")
        verdicts = {}
        with History(state_dir, readonly=True) as history:
            recorded = {b.key: b.inputs for b in history.builds()}
        for node, original in target.originals.items():
            plan = prepared.plans[node]
            if plan.key != original.key:
                was = recorded.get(original.key, {})
                changed = sorted(
                    k for k in plan.inputs.keys() | was.keys() if plan.inputs.get(k) != was.get(k)
                )
                verdicts[node] = Verdict(
                    node=node,
                    result=INPUTS_CHANGED,
                    original_id=original.image_id,
                    why="inputs changed since: " + (", ".join(changed) or "unknown (not recorded)"),
                )
        comparable = [n for n in target.originals if n not in verdicts]
        if comparable:
            result = execute(prepared, scratch_storage.runner)
            for node in comparable:
                rebuilt = result.results.get(node)
                original = target.originals[node]
                if rebuilt is None or not rebuilt.status.ok:
                    why = (rebuilt.error or rebuilt.reason) if rebuilt else "not in the rebuild"
                    verdicts[node] = Verdict(node, NOT_REBUILT, original.image_id, why=why)
                    continue
                verdicts[node] = _compare(
                    node, original, rebuilt.image_id,
                    storages=(run_storage, scratch_storage), scratch=scratch,
                )  # fmt: skip
        return [verdicts[n] for n in target.originals], result, scratch
    finally:
        if not keep:
            remove_scratch(scratch, runner_on)


def _compare(
    node: str,
    original: NodeRecord,
    rebuilt_id: str,
    *,
    storages: tuple[Storage, Storage],
    scratch: Path,
) -> Verdict:
    """Compare a node's original image (in ``storages[0]``) with its rebuild (in
    ``storages[1]``)."""
    run_id = scratch.name
    verdict = Verdict(node, IDENTICAL, _bare(original.image_id), rebuilt_id=_bare(rebuilt_id))
    if verdict.original_id == verdict.rebuilt_id:
        return verdict
    verdict.result = DIFFERENT
    inventories: list[image_diff.Inventory] = []
    configs: list[dict[str, Any]] = []
    entries: list[list[tuple[str, str]]] = []
    for side, storage in enumerate(storages):
        image = _local(storage, original) if side == 0 else rebuilt_id
        configs.append(_config(storage, image))
        container = naming.container_name(run_id, f"verify-{node}-{side}")
        with storage.mounted(image, container) as root:
            inventories.append(image_diff.inventory(root))
        with layers.layer_files(image, storage.runner, scratch / f"{node}-{side}") as files:
            entries.append(list(layers.entry_headers(files[-1]).items()) if files else [])
    verdict.diff = image_diff.diff_inventories(
        inventories[0], inventories[1], names=("original", "rebuilt")
    )
    verdict.config = config_changes(configs[0], configs[1])
    verdict.entries = image_diff.compare(dict(entries[0]), dict(entries[1]))
    verdict.entry_order = not verdict.entries and entries[0] != entries[1]
    own = [c.get("rootfs", {}).get("diff_ids", []) for c in configs]
    if own[0][:-1] != own[1][:-1]:
        verdict.why = "built on parent layers that differ (see the parents' verdicts)"
    elif verdict.diff.identical and not verdict.config:
        verdict.why = "same files, packages and config; the layer archive differs" + (
            ": its entries come in another order" if verdict.entry_order else ""
        )
    return verdict


def config_changes(
    a: Mapping[str, Any], b: Mapping[str, Any], prefix: str = ""
) -> dict[str, tuple[Any, Any]]:
    """The leaves of two image configs that differ (``config.Labels.x``, ``history``), layer
    digests left out (the file list says what differs in them)."""
    out: dict[str, tuple[Any, Any]] = {}
    for name in sorted(a.keys() | b.keys()):
        path = f"{prefix}{name}"
        if path == "rootfs":
            continue
        va, vb = a.get(name), b.get(name)
        if isinstance(va, dict) and isinstance(vb, dict):
            out.update(config_changes(va, vb, prefix=f"{path}."))
        elif va != vb:
            out[path] = (va, vb)
    return out


def _config(storage: Storage, image: str) -> dict[str, Any]:
    value = json.loads(storage.runner.capture(buildah.inspect_image(image))).get("OCIv1")
    return value if isinstance(value, dict) else {}


def _local(storage: Storage, original: NodeRecord) -> str:
    """The original image in local storage: by its recorded name, else by id."""
    for image in (original.image, _bare(original.image_id)):
        if image and storage.image_id(image) is not None:
            return image
    raise ConfigError(
        "RUN|IMAGE",
        "",
        f"the image of node {original.node} ({original.image}) is no longer in local storage: "
        "verify compares against it",
    )


def _bare(image_id: str) -> str:
    return image_id.removeprefix("sha256:")


def remove_scratch(scratch: Path, runner_on: RunnerOn) -> None:
    """The scratch storage's images (through a runner ``runner_on`` makes on it), then the
    folder."""
    conf = storageconf.conf_path(scratch / "storage")
    if conf.is_file():
        with suppress(OrchestrateError):
            Storage(runner_on(conf)).empty()
    shutil.rmtree(scratch, ignore_errors=True)


def render(verdicts: Sequence[Verdict], *, limit: int) -> str:
    """A line per node, then what differs in each node that is not identical."""
    lines = []
    width = max(len(v.node) for v in verdicts)
    for v in verdicts:
        ids = f"{v.original_id[:12]} -> {v.rebuilt_id[:12]}" if v.rebuilt_id else v.original_id[:12]
        lines.append(f"{v.node:<{width}}  {v.result:<14}  {ids}  {v.why}".rstrip())
    for v in verdicts:
        if v.result != DIFFERENT:
            continue
        lines += ["", f"== {v.node}: what differs (original -> rebuilt)"]
        for path, (a, b) in list(v.config.items())[: limit or None]:
            lines.append(f"config {path}: {a!r} -> {b!r}")
        if v.diff is not None and not v.diff.identical:
            lines.append(image_diff.render(v.diff, limit=limit))
        if v.entries:
            lines.append(
                f"layer entries: {len(v.entries.changed)} changed, "
                f"{len(v.entries.added)} added, {len(v.entries.removed)} removed"
            )
            for path, (a, b) in list(v.entries.changed.items())[: limit or None]:
                lines.append(f"  ~ {path}: {a} -> {b}")
            for path, header in list(v.entries.added.items())[: limit or None]:
                lines.append(f"  + {path}: {header}")
            for path, header in list(v.entries.removed.items())[: limit or None]:
                lines.append(f"  - {path}: {header}")
    return "\n".join(lines)
