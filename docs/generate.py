"""Write the generated reference pages of the documentation site.

``docs/reference/settings.md`` comes from the option table
(:data:`orchestrator.model.options.OPTIONS`) and ``docs/reference/commands.md`` from the
click group (:data:`orchestrator.cli.cli`), so neither can drift from the code. Both are
committed; ``tests/unit/test_docs.py`` regenerates them in memory and fails when they differ.

    python docs/generate.py          # rewrite the pages
    python docs/generate.py --check  # exit 1, naming the stale pages, if they are out of date

The output is deterministic: nothing of this host (cores, paths, terminal width, date) goes
into a page. A default that is a function of the environment is described, never evaluated.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere: the checkout's package
    sys.path.insert(0, str(ROOT))

from orchestrator.cli import cli  # noqa: E402
from orchestrator.model.options import OPTIONS, Option  # noqa: E402

SETTINGS_PAGE = "docs/reference/settings.md"
COMMANDS_PAGE = "docs/reference/commands.md"
REGENERATE = "python docs/generate.py"

# Defaults that are functions of the host or the environment, said in words (option name:
# description). Evaluating them would put this machine's cores or paths into the page.
DEFAULT_DESCRIPTIONS = {
    "build_slots": "the host's cores + 1",
    "state_dir": "`$XDG_STATE_HOME/orchestrate`, else `~/.local/state/orchestrate`",
    "ca_bundle": "`/etc/ssl/certs/ca-certificates.crt` where the host has it, else not set",
}

SCOPE_TITLES = {
    "selection": (
        "Selection",
        "Which nodes of the pipeline a command takes. Command line only; a run stores them "
        "and `orchestrate resume` repeats them.",
    ),
    "build": ("Build", "How a build treats the cache and what it reads. Command line only."),
    "output": ("Output", "What a run writes and shows besides the images."),
}
SECTION_TITLES = {
    "settings": (
        "Run settings: `settings:`",
        "Scheduling, the image storage, the registry and signing.",
    ),
    "network": (
        "Network settings: `network:`",
        "Proxies, indexes and mirrors used during builds. They reach a build step only "
        "through a file bind-mounted for that step (never `--env`, never `buildah config`), "
        "so none ends up in an image's config, history or layers; credentials in URLs are "
        "masked in logs, errors, the history and reports.",
    ),
}

SETTINGS_INTRO = """\
Every option of `orchestrate` is declared once, in the option table
(`orchestrator/model/options.py`): its flag, its `ORCHESTRATE_*` environment variable, its key
in a pipeline file and its default all come from there, and so does this page.

A **run setting** may be given in four places; the first one that gives it wins:

1. the command-line flag (`--parallel 9`),
2. the environment variable (`ORCHESTRATE_PARALLEL=9`),
3. the pipeline file's `settings:` or `network:` section,
4. the built-in default.

Every resolved value remembers where it came from, so a refusal names the setting and its
origin (`setting 'registry' (from env)`). Settings never change what an image holds, so none
of them enters a cache key. In a pipeline file:

```yaml
settings:
  parallel: 4
  push: true
  registry: registry.example.com/openstack
network:
  https_proxy: http://proxy.example.com:3128
  pip_extra_index_urls: [https://pypi.example.com/simple]
```

The other options (selection, build, output) belong to one command line. Which command takes
which option is on the [Commands](commands.md) page. Booleans given as variables accept
`1`, `true`, `yes`, `on` and `0`, `false`, `no`, `off`; list variables are comma-separated.
"""

COMMANDS_INTRO = """\
Every command of `orchestrate`, with the usage, help and options `orchestrate COMMAND --help`
prints. Options that come from the option table (the run settings and the selection, build and
output options) are listed by name and link to their entry on the [Settings](settings.md)
page; the options of one command only are described here.

Without a command, `orchestrate` builds `pipelines/full-stack.yaml` with the options given
(`orchestrate --parallel 9`). What each exit code means is on the
[Runs](../concepts/runs.md#exit-codes) page.
"""


def generated_note(source: str) -> str:
    """The comment heading a generated page."""
    return f"<!-- Generated from {source} by {REGENERATE}: do not edit by hand. -->"


# Markdown -------------------------------------------------------------------------------

_CODE_SPAN = re.compile(r"(`[^`]*`)")
_ESCAPES = str.maketrans(
    {
        "<": "&lt;",
        ">": "&gt;",
        "*": "\\*",
        "_": "\\_",
        "[": "\\[",
        "]": "\\]",
        "|": "\\|",
    }
)


def text(plain: str) -> str:
    """``plain`` (help text) as Markdown: code spans kept, everything else taken literally."""
    # A pipe in a code span stays in its table cell (Python-Markdown's tables see spans).
    parts = _CODE_SPAN.split(plain)
    return "".join(part if part.startswith("`") else part.translate(_ESCAPES) for part in parts)


def code(plain: str) -> str:
    """``plain`` as one code span."""
    return "`" + plain + "`"


def paragraphs(help_text: str) -> list[str]:
    """A docstring-style help text as Markdown paragraphs (each on one line)."""
    cleaned = inspect.cleandoc(help_text.split("\f", 1)[0])
    blocks = [block for block in re.split(r"\n\s*\n", cleaned) if block.strip()]
    return [text(" ".join(line.strip() for line in block.splitlines())) for block in blocks]


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def anchor(option: Option) -> str:
    """The id of an option's row on the settings page."""
    return "option-" + option.name.replace("_", "-")


# The settings page -------------------------------------------------------------------------


def flags(option: Option) -> str:
    """The option's flags as code spans."""
    names = [option.short] if option.short else []
    names.append(option.flag)
    if option.kind == "bool":
        names.append("--no-" + option.flag[2:])
    return ", ".join(code(name) for name in names)


def where(option: Option) -> str:
    """The table cell naming the option's flags, variable and pipeline key, one a line."""
    names = [f'<a id="{anchor(option)}"></a>{flags(option)}']
    if option.has_env:
        names.append(code(option.env))
    if option.scope == "setting" and option.section:
        names.append(code(f"{option.section}.{option.name}"))
    return "<br>".join(names)


def kind(option: Option) -> str:
    """The option's type, in words."""
    match option.kind:
        case "int":
            at_least = f" ≥ {option.minimum}" if option.minimum is not None else ""
            return f"integer{at_least}"
        case "bool":
            return "boolean"
        case "choice":
            return "one of " + ", ".join(code(choice) for choice in option.choices)
        case "list":
            return "list"
        case "names":
            return "node names (comma-separated, repeatable)"
        case "flag":
            return "switch"
        case "path":
            return "path"
        case "str":
            return "text"
    raise ValueError(f"option {option.name}: unknown kind {option.kind!r}")


def default(option: Option) -> str:
    """The option's default, in words where it depends on the host (never evaluated)."""
    value = option.default
    if callable(value):
        if option.name in DEFAULT_DESCRIPTIONS:
            return DEFAULT_DESCRIPTIONS[option.name]
        doc = inspect.getdoc(value)
        if doc:  # the function's own words, rST literals as Markdown code spans
            return text(doc.split("\n\n", 1)[0].replace("``", "`").rstrip("."))
        raise ValueError(
            f"option {option.name}: describe its default in DEFAULT_DESCRIPTIONS "
            "(docs/generate.py): it is a function of the host"
        )
    if option.kind == "flag":
        return "off"
    if value is None or value == "" or value == ():
        return "not set"
    if isinstance(value, bool):
        return code("true" if value else "false")
    if isinstance(value, tuple | list):
        return code(",".join(str(item) for item in value))
    return code(str(value))


def _groups() -> Iterator[tuple[str, str, list[Option]]]:
    """(title, description, options) for each group, in the table's order."""
    for section, (title, about) in SECTION_TITLES.items():
        chosen = [o for o in OPTIONS if o.scope == "setting" and o.section == section]
        if chosen:
            yield title, about, chosen
    unsectioned = [o for o in OPTIONS if o.scope == "setting" and o.section not in SECTION_TITLES]
    if unsectioned:
        yield "Other settings", "Settings with no pipeline key.", unsectioned
    for scope, (title, about) in SCOPE_TITLES.items():
        chosen = [o for o in OPTIONS if o.scope == scope]
        if chosen:
            yield title, about, chosen
    known = {"setting", *SCOPE_TITLES}
    unknown = sorted({o.scope for o in OPTIONS} - known)
    if unknown:
        raise ValueError(f"options of scope {', '.join(unknown)}: give them a group here")


def settings_page() -> str:
    """``docs/reference/settings.md``: every option of the table, by scope and section."""
    lines = [
        generated_note("orchestrator/model/options.py"),
        "",
        "# Settings",
        "",
        SETTINGS_INTRO.rstrip("\n"),
    ]
    for title, about, options in _groups():
        rows = [
            [where(option), kind(option), default(option), text(option.help)] for option in options
        ]
        header = ["Flag · variable · pipeline key", "Type", "Default", "Description"]
        lines += ["", f"## {title}", "", about, "", *table(header, rows)]
    return "\n".join(lines) + "\n"


# The commands page -------------------------------------------------------------------------

_TABLE_HELP = {option.name: option for option in OPTIONS}


def table_option(param: click.Parameter) -> Option | None:
    """The option-table entry a click option was made from, if any (same name and help)."""
    option = _TABLE_HELP.get(param.name or "")
    if option is None or not isinstance(param, click.Option):
        return None
    return option if (param.help or "").startswith(option.help) else None


def _visible(group: click.Group, ctx: click.Context) -> Iterator[str]:
    """The names of ``group``'s commands that are not hidden, in click's order."""
    for name in group.list_commands(ctx):
        sub = group.get_command(ctx, name)
        if sub is not None and not sub.hidden:
            yield name


def _commands(
    command: click.Command, ctx: click.Context
) -> Iterator[tuple[click.Command, click.Context]]:
    """``command`` and, for a group, each of its commands (recursively), in click's order."""
    yield command, ctx
    if isinstance(command, click.Group):
        for name in _visible(command, ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None
            yield from _commands(sub, click.Context(sub, info_name=name, parent=ctx))


def command_section(command: click.Command, ctx: click.Context) -> list[str]:
    """One command: its usage, help, options from the table (linked) and its own options."""
    usage = " ".join([ctx.command_path, *command.collect_usage_pieces(ctx)])
    lines = [f"## {ctx.command_path}", "", "```text", usage, "```", ""]
    if command.help:
        for paragraph in paragraphs(command.help):
            lines += [paragraph, ""]
    shared: list[Option] = []
    own: list[tuple[str, str]] = []
    for param in command.get_params(ctx):
        if not isinstance(param, click.Option):
            continue  # arguments: in the usage line
        option = table_option(param)
        if option is not None:
            shared.append(option)
            continue
        record = param.get_help_record(ctx)
        if record is not None:
            own.append(record)
    if isinstance(command, click.Group):
        subcommands = ", ".join(
            f"[`{name}`](#{_slug(ctx.command_path, name)})" for name in _visible(command, ctx)
        )
        lines += [f"Commands: {subcommands}.", ""]
    if shared:
        lines += [_shared_options(shared), ""]
    if own:
        rows = [[code(opts), text(help_text)] for opts, help_text in own]
        lines += [*table(["Option", "Description"], rows), ""]
    return lines


def _shared_options(shared: Sequence[Option]) -> str:
    """The sentence naming the options a command takes from the table, each linked."""
    settings = [o for o in OPTIONS if o.scope == "setting"]
    others = [o for o in shared if o.scope != "setting"]
    links = [f"[{code(o.flag)}](settings.md#{anchor(o)})" for o in others]
    if all(o in shared for o in settings):
        span = f"{code(settings[0].flag)} to {code(settings[-1].flag)}"
        every = f"every [run setting](settings.md) ({span})"
        return f"Options from the option table: {', '.join([every, *links])}."
    links = [f"[{code(o.flag)}](settings.md#{anchor(o)})" for o in shared]
    return f"Options from the option table: {', '.join(links)}."


def _slug(*words: str) -> str:
    """The id mkdocs gives the heading ``words`` (``orchestrate wheels export``)."""
    return "-".join(" ".join(words).split())


def commands_page() -> str:
    """``docs/reference/commands.md``: every command of the click group, recursively."""
    root = click.Context(cli, info_name="orchestrate", **cli.context_settings)
    lines = [generated_note("orchestrator.cli"), "", "# Commands", "", COMMANDS_INTRO.rstrip()]
    for command, ctx in _commands(cli, root):
        lines += ["", *command_section(command, ctx)]
        while lines[-1] == "":
            lines.pop()
    return "\n".join(lines).rstrip("\n") + "\n"


# Entry point -------------------------------------------------------------------------------

PAGES: dict[str, Callable[[], str]] = {
    SETTINGS_PAGE: settings_page,
    COMMANDS_PAGE: commands_page,
}


def pages() -> dict[str, str]:
    """Every generated page: its path from the repository root, and its text."""
    return {path: render() for path, render in PAGES.items()}


def stale(root: Path = ROOT) -> list[str]:
    """The generated pages whose committed text differs from what the code gives now."""
    out = []
    for path, content in pages().items():
        target = root / path
        if not target.is_file() or target.read_text(encoding="utf-8") != content:
            out.append(path)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Write the pages, or with ``--check`` say which are out of date (exit 1)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else "")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a page is out of date"
    )
    args = parser.parse_args(argv)
    if args.check:
        out_of_date = stale()
        for path in out_of_date:
            print(f"{path} is out of date: run {REGENERATE}", file=sys.stderr)
        return 1 if out_of_date else 0
    for path, content in pages().items():
        target = ROOT / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_text(encoding="utf-8") != content:
            target.write_text(content, encoding="utf-8")
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
