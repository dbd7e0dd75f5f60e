"""Projects a site declares, and those an image names that nobody declared."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from orchestrator.errors import ConfigError
from orchestrator.loading.load import load
from orchestrator.model.catalog import load_catalog
from orchestrator.model.site_projects import SITE_UIDS, entry_points_smoke, site_uid
from tests.conftest import WritePipeline


def test_an_image_naming_an_unknown_project_builds_with_the_defaults(
    write_pipeline: WritePipeline,
) -> None:
    path = write_pipeline("images:\n  zun:\n    source: {pypi: openstack-zun==15.0.0}\n")
    service = load(path).services["zun"]
    project = service.project
    assert project.implicit and project.origin == str(path)
    assert project.pypi == "openstack-zun"
    assert (service.user, project.user) == ("zun", "zun")
    assert service.uid in SITE_UIDS and service.gid == service.uid
    assert service.profiles == ()
    assert (project.config, project.config_optional) == ("etc/zun", True)
    assert project.smoke == entry_points_smoke("openstack-zun")
    # What every service image gets still comes with it.
    assert "libxml2" in service.dist_packages and "uwsgi" in service.pip_packages


def test_default_uids_are_stable_and_never_the_catalogs(write_pipeline: WritePipeline) -> None:
    catalog_uids = {p.uid for p in load_catalog().projects.values()}
    assert not catalog_uids & set(SITE_UIDS)
    first = load(write_pipeline("images:\n  zun:\n    source: {pypi: zun==1.0}\n"))
    again = load(write_pipeline("images:\n  zun:\n    source: {pypi: zun==2.0}\n"))
    assert first.services["zun"].uid == again.services["zun"].uid == site_uid("zun", ())


def test_a_taken_default_uid_moves_on_to_the_next_free_one() -> None:
    uid = site_uid("zun", ())
    assert site_uid("zun", {uid}) == (uid + 1 if uid + 1 in SITE_UIDS else SITE_UIDS.start)
    with pytest.raises(ValueError, match="no free id"):
        site_uid("zun", SITE_UIDS)


def test_two_site_projects_never_share_a_default_uid(write_pipeline: WritePipeline) -> None:
    names = [f"p{i}" for i in range(40)]
    body = "images:\n" + "".join(f"  {n}:\n    source: {{pypi: {n}==1.0}}\n" for n in names)
    uids = [s.uid for s in load(write_pipeline(body)).services.values()]
    assert len(set(uids)) == len(uids) == 40


def test_a_declared_project_takes_its_fields_and_defaults_the_rest(
    write_pipeline: WritePipeline,
) -> None:
    path = write_pipeline(
        textwrap.dedent("""\
        projects:
          zun:
            pypi: openstack-zun
            dist_packages: [iproute2]
            profiles: [fluent]
            config: etc/zun
            smoke: [zun-api, --version]
        images:
          zun:
            source: {local: src}
        """)
    )
    (path.parent / "src").mkdir()
    (path.parent / "src" / "setup.cfg").write_text("[metadata]\nname = openstack-zun\n")
    service = load(path).services["zun"]
    assert service.project.pypi == "openstack-zun" and not service.project.implicit
    assert service.project.smoke == ("zun-api", "--version")
    assert (service.project.config, service.project.config_optional) == ("etc/zun", False)
    assert service.profiles == ("fluent",)
    assert "iproute2" in service.dist_packages
    assert service.user == "zun" and service.uid in SITE_UIDS


def test_a_site_entry_overrides_only_what_it_sets(write_pipeline: WritePipeline) -> None:
    builtin = load_catalog().projects["keystone"]
    path = write_pipeline(
        textwrap.dedent("""\
        projects:
          keystone: {profiles: [fluent], uid: 43100}
        images:
          keystone:
            source: {pypi: keystone==29.1.0}
        """)
    )
    service = load(path).services["keystone"]
    assert service.profiles == ("fluent",)
    assert (service.uid, service.gid) == (43100, 43100)
    assert service.project.smoke == builtin.smoke and service.project.pypi == builtin.pypi
    assert service.project.origin == str(path)


def test_a_catalog_file_declares_projects_and_the_pipeline_wins(
    write_pipeline: WritePipeline,
) -> None:
    path = write_pipeline(
        textwrap.dedent("""\
        catalog: site-catalog.yaml
        projects:
          zun: {user: zunsvc}
        images:
          zun:
            source: {pypi: openstack-zun==15.0.0}
        """)
    )
    site = path.parent / "site-catalog.yaml"
    site.write_text("projects:\n  zun: {user: zun-file, uid: 43210}\n")
    service = load(path).services["zun"]
    assert service.user == "zunsvc" and service.uid == 43210
    # The file that declared it last names it in errors.
    assert service.project.origin == str(path)


def test_a_bad_entry_in_a_catalog_file_names_that_file(write_pipeline: WritePipeline) -> None:
    path = write_pipeline("catalog: [site.yaml]\nimages:\n  zun:\n    source: {pypi: z==1}\n")
    (path.parent / "site.yaml").write_text("projects:\n  zun: {uid: 0}\n")
    with pytest.raises(ConfigError, match=r"site\.yaml: projects\.zun\.uid: must be >= 1"):
        load(path)


def test_a_profile_may_name_a_site_project(write_pipeline: WritePipeline, tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "zunstuff.yaml").write_text("projects:\n  zun: {dist_packages: [lsof]}\n")
    path = write_pipeline("images:\n  zun:\n    source: {pypi: z==1}\n    profiles: [zunstuff]\n")
    assert "lsof" in load(path, profiles_dir=profiles).services["zun"].dist_packages


def test_list_says_which_project_took_the_defaults(write_pipeline: WritePipeline) -> None:
    from orchestrator.planning.describe import describe_nodes
    from orchestrator.planning.graph import graph_for

    resolved = load(write_pipeline("images:\n  zun:\n    source: {pypi: zun==1.0}\n"))
    lines = describe_nodes(resolved, graph_for(resolved))
    zun = next(line for line in lines if line.startswith("zun "))
    assert f"not in the catalog: defaults (user zun, uid {site_uid('zun', ())})" in zun
