"""Create labeling projects: a template's label config in Label Studio, recorded in `labeling_projects`."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from annotation.client import LabelStudioClient
from annotation.connect import client_for
from annotation.errors import LabelError, ProjectNotFound, TemplateError
from annotation.media import files_dir
from annotation.templates import get_template
from storage.collect_models import Source
from storage.engine import session_scope
from storage.label_models import LabelingProject
from storage.labels import project_by_name


def load_project(store, name: str) -> LabelingProject:
    with session_scope(store.sessions) as session:
        project = project_by_name(session, name)
        if project is None:
            names = list(session.scalars(select(LabelingProject.name)))
            raise ProjectNotFound(f"no labeling project named {name!r}; known: {sorted(names) or 'none'}. "
                                  "Create it with `harvest label project create NAME --template T --labels a,b`.")
        session.expunge(project)
        return project


def create_project(store, name: str, template: str, labels: list[str], source: str | None = None,
                   client: LabelStudioClient | None = None) -> LabelingProject:
    """Create the LS project and record it; the same call again returns the recorded project.

    A same-titled project already in Label Studio is never adopted: its `asset:N` keys could belong
    to another harvest store. A crash between creating and recording leaves an empty orphan there.
    """
    if len(name.strip()) < 3:
        raise TemplateError(f"project name {name!r} is too short; Label Studio needs at least 3 characters.")
    tpl = get_template(template)
    config = tpl.label_config(labels)
    labels = [lab.strip() for lab in labels if lab.strip()]
    with session_scope(store.sessions) as session:
        existing = project_by_name(session, name)
        if existing is not None:
            if existing.template != template or list(existing.labels) != labels:
                raise LabelError(f"project {name!r} already exists with template {existing.template!r} and labels "
                                 f"{existing.labels}; found {template!r} / {labels}. Choose another name.")
            session.expunge(existing)
            return existing
        source_id = None
        if source:
            source_id = session.scalar(select(Source.id).where(Source.name == source))
            if source_id is None:
                raise LabelError(f"unknown source {source!r}; crawl it first or drop --source.")
    own = client is None
    client = client or client_for(store.settings)
    try:
        url = client.url
        ls_project = client.create_project(name, config, description=f"harvest {template}")
        options: dict = {"kind": tpl.kind}
        if tpl.kind == "image" and not store.settings.labelstudio.media_url:  # local files only
            folder = files_dir(Path(store.settings.data_dir))
            folder.mkdir(parents=True, exist_ok=True)
            storage = client.create_local_storage(ls_project["id"], str(folder))
            options["local_storage_id"] = storage["id"]
    finally:
        if own:
            client.close()
    with session_scope(store.sessions) as session:
        project = LabelingProject(name=name, template=template, labels=labels, label_config=config,
                                  source_id=source_id, ls_url=url, ls_project_id=ls_project["id"], options=options)
        session.add(project)
        session.flush()
        session.expunge(project)
    return project


def parse_label_map(pairs: list[str]) -> dict[str, str]:
    """['Butterfly=butterfly', ...] -> {"Butterfly": "butterfly"}; a malformed pair is a LabelError."""
    out: dict[str, str] = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise LabelError(f"label map entry {pair!r}: expected OLD=NEW (e.g. 'Butterfly=butterfly'), "
                             "with a label on each side.")
        out[old.strip()] = new.strip()
    return out


def set_label_map(store, name: str, mapping: dict[str, str], *, replace: bool = False) -> dict[str, str]:
    """Add (or with `replace`, set) the project's label map; every NEW must be a label of its config.

    The map renames labels on read; the next `pull` re-reads the project and converts stored results again
    under it, so regions refused before (an unknown label) become targets in a new revision.
    """
    from annotation.convert import spec_from_config

    project = load_project(store, name)
    known = spec_from_config(project.label_config).labels
    wrong = {old: new for old, new in mapping.items() if new not in known}
    if wrong:
        raise LabelError(f"label map {wrong}: the new name must be a label of project {name!r}; its labels are "
                         f"{sorted(known)}. Map to one of them.")
    with session_scope(store.sessions) as session:
        row = session.get(LabelingProject, project.id)
        current = {} if replace else dict((row.options or {}).get("label_map") or {})
        current.update(mapping)
        current = {old: new for old, new in current.items() if old != new}
        row.options = {**(row.options or {}), "label_map": current}
    return current
