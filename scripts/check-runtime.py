"""Runtime completeness: what the project will run, found in the image, or said to be absent.

Run by check-runtime.sh with the image's venv python, as root, in the working container
before it is committed. It reads:

- every rootwrap filter file of the image (``/etc/<project>/rootwrap.d/*.filters`` and those
  installed under the venv's ``etc/``): the command each filter lets the service run as
  root, found the way oslo.rootwrap finds it (its path, else its name in ``exec_dirs``);
- the project's privsep code (its modules importing oslo_privsep, and its ``privsep``
  packages): the commands given to ``processutils.execute``/``trycmd`` as literals;
- the project's oslo.config options (its ``oslo.config.opts`` entry points): every default
  naming a file under ``/etc/<project>/`` must be in the image.

It writes ``/etc/image_info/runtime.json`` and prints one line per finding. A command absent
and not accepted by the catalog (``runtime_absent``), or a missing default file, fails the
step: one line each, naming the command and the filter file (or the option).

Inputs (environment): PROJECT (the project's name), DIST (its distribution), VENV, ETC_DIR,
ACCEPTED (accepted absent commands and files, space-separated), OUT (the report's path),
REPORT_COPY (a copy's path, outside the image).
"""

from __future__ import annotations

import ast
import configparser
import fnmatch
import json
import os
import re
import sys
from importlib import metadata
from pathlib import Path

# oslo.rootwrap's exec_dirs when rootwrap.conf names none.
DEFAULT_EXEC_DIRS = ("/sbin", "/usr/sbin", "/bin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin")
EXECUTE_CALLS = {"execute", "trycmd"}
# A command as privsep code names it: a name or an absolute path.
COMMAND = re.compile(r"^(/[\w.+-]+)*/?[\w][\w.+-]*$")


def filter_files(etc_dir: Path, venv: Path) -> list[Path]:
    """The image's rootwrap filter files: the project's, then those the venv installed."""
    found = sorted(etc_dir.glob("rootwrap.d/*.filters"))
    found += sorted(venv.glob("etc/*/rootwrap.d/*.filters"))
    seen: set[str] = set()
    out = []
    for path in found:
        if path.name not in seen:
            seen.add(path.name)
            out.append(path)
    return out


def filter_commands(path: Path) -> list[tuple[str, str]]:
    """(command, filter name) for each filter of a rootwrap filter file."""
    parser = configparser.RawConfigParser(strict=False)
    parser.read(path)
    out = []
    for section in parser.sections():
        for name, value in parser.items(section):
            fields = [f.strip() for f in value.split(",")]
            if len(fields) < 2:
                continue
            kind, args = fields[0], fields[1:]
            if kind == "ReadFileFilter":
                out.append(("cat", name))
            elif kind == "KillFilter":
                out.append(("kill", name))
            elif kind == "EnvFilter":
                # EnvFilter, env, root, VAR=, ..., command
                command = next((a for a in args[2:] if "=" not in a), "")
                out.append((args[0], name))
                if command:
                    out.append((command, name))
            else:  # CommandFilter, RegExpFilter, IpFilter, PathFilter...: the command first
                out.append((args[0], name))
    return [(c, n) for c, n in out if c and not c.startswith("$")]


def exec_dirs(etc_dir: Path, venv: Path) -> list[str]:
    """Where rootwrap looks for a command given by name: rootwrap.conf's exec_dirs."""
    conf = etc_dir / "rootwrap.conf"
    dirs: list[str] = list(DEFAULT_EXEC_DIRS)
    if conf.is_file():
        parser = configparser.RawConfigParser(strict=False)
        parser.read(conf)
        if parser.has_option("DEFAULT", "exec_dirs"):
            dirs = [d.strip() for d in parser.get("DEFAULT", "exec_dirs").split(",") if d.strip()]
    return [*dirs, str(venv / "bin")]


def locate(command: str, dirs: list[str]) -> str:
    """Where rootwrap would find ``command`` ('' when nowhere)."""
    if os.path.isabs(command) and os.access(command, os.X_OK):
        return command
    name = os.path.basename(command)
    for folder in dirs:
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return ""


def project_files(dist: metadata.Distribution) -> list[Path]:
    """The project's own Python modules, as installed."""
    return [
        Path(str(dist.locate_file(f)))
        for f in dist.files or ()
        if f.suffix == ".py" and not str(f).startswith(("..", "/"))
    ]


def privsep_commands(dist: metadata.Distribution) -> list[tuple[str, str]]:
    """(command, module) for each literal command the project's privsep code executes."""
    out = []
    for path in project_files(dist):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "privsep" not in path.parts and "oslo_privsep" not in text:
            continue
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        module = str(path)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name not in EXECUTE_CALLS:
                continue
            literals = [a.value for a in node.args if isinstance(a, ast.Constant)]
            words = [w for w in literals if isinstance(w, str)]
            if not words or not isinstance(node.args[0], ast.Constant):
                continue
            command = words[0]
            if command in ("env", "nice", "ionice", "taskset") and len(words) > 1:
                command = next((w for w in words[1:] if "=" not in w and not w.startswith("-")), "")
            if COMMAND.match(command):
                out.append((command, module))
    return out


def config_defaults(
    project: str, dist: metadata.Distribution, accepted: set[str]
) -> tuple[list[dict], list[str]]:
    """Options of the project whose default is a file under /etc/<project>/, and the
    entry points that could not be listed (an optional plugin's, whose library the image
    lacks, may be accepted by its entry point's name)."""
    prefix = f"/etc/{project}/"
    found, errors = [], []
    for ep in metadata.entry_points(group="oslo.config.opts"):
        if ep.dist is None or ep.dist.name != dist.name:
            continue
        try:
            groups = ep.load()()
        except Exception as exc:  # reported, and the step fails unless accepted
            if is_accepted(ep.name, accepted):
                print(f"absent (accepted): the options of {ep.name} ({type(exc).__name__}: {exc})")
            else:
                errors.append(f"{ep.name}: {type(exc).__name__}: {exc}")
            continue
        for group, opts in groups:
            group_name = getattr(group, "name", group) or "DEFAULT"
            for opt in opts:
                default = getattr(opt, "default", None)
                values = default if isinstance(default, list) else [default]
                for value in values:
                    if isinstance(value, str) and value.startswith(prefix):
                        found.append(
                            {
                                "option": f"[{group_name}] {opt.dest}",
                                "path": value,
                                "present": os.path.exists(value),
                            }
                        )
    unique = {(f["option"], f["path"]): f for f in found}
    return sorted(unique.values(), key=lambda f: (f["option"], f["path"])), errors


def is_accepted(name: str, accepted: set[str]) -> bool:
    """``name`` (a command, by path or name, or a file) matches an accepted pattern
    (shell-style: ``mm*``, ``/etc/octavia/certs/*``)."""
    base = os.path.basename(name.rstrip("/")) if not name.startswith("/etc/") else name
    return any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(base, p) for p in accepted)


def main() -> int:
    project = os.environ["PROJECT"]
    venv = Path(os.environ["VENV"])
    etc_dir = Path(os.environ.get("ETC_DIR") or f"/etc/{project}")
    accepted = set(os.environ.get("ACCEPTED", "").split())
    out = Path(os.environ.get("OUT", "/etc/image_info/runtime.json"))
    dist = metadata.distribution(os.environ["DIST"])

    dirs = exec_dirs(etc_dir, venv)
    commands: dict[str, dict] = {}
    for path in filter_files(etc_dir, venv):
        for command, name in filter_commands(path):
            entry = commands.setdefault(command, {"found": locate(command, dirs), "named_by": []})
            entry["named_by"].append(f"{path}:{name}")
    for command, module in privsep_commands(dist):
        entry = commands.setdefault(command, {"found": locate(command, dirs), "named_by": []})
        entry["named_by"].append(f"{module} (privsep)")
    defaults, errors = config_defaults(project, dist, accepted)

    problems = []
    absent = []
    for command in sorted(commands):
        entry = commands[command]
        if entry["found"]:
            continue
        where = entry["named_by"][0].rsplit(":", 1)[0]
        ok = is_accepted(command, accepted)
        absent.append({"command": command, "named_by": entry["named_by"], "accepted": ok})
        print(f"absent{' (accepted)' if ok else ''}: {command} (named by {where})")
        if not ok:
            problems.append(
                f"ERROR: {command} is absent from the image, named by {where}: install its "
                f"package or accept it in the catalog's runtime_absent for {project}"
            )
    for item in defaults:
        item["accepted"] = not item["present"] and is_accepted(item["path"], accepted)
        if not item["present"]:
            print(
                f"absent{' (accepted)' if item['accepted'] else ''}: {item['path']} "
                f"(the default of {item['option']})"
            )
        if not item["present"] and not item["accepted"]:
            problems.append(
                f"ERROR: {item['path']} is absent from the image, the default of {project}'s "
                f"{item['option']}: add it to the image or accept it in the catalog's "
                f"runtime_absent for {project}"
            )
    for error in errors:
        problems.append(
            f"ERROR: cannot list {project}'s options ({error}): install what it imports or "
            f"accept the entry point in the catalog's runtime_absent for {project}"
        )

    report = {
        "project": project,
        "commands_checked": len(commands),
        "present": {c: e["found"] for c, e in sorted(commands.items()) if e["found"]},
        "absent": absent,
        "config_defaults": defaults,
    }
    text = json.dumps(report, indent=1, sort_keys=True) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    if os.environ.get("REPORT_COPY"):
        Path(os.environ["REPORT_COPY"]).write_text(text, encoding="utf-8")
    present = len(report["present"])
    print(
        f"runtime: {present} of {len(commands)} commands present, {len(absent)} absent "
        f"({sum(1 for a in absent if a['accepted'])} accepted); "
        f"{sum(1 for d in defaults if d['present'])} of {len(defaults)} default files present"
    )
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
