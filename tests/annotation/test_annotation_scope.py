"""Label Studio annotation ids restart after a server reset: revisions and deletions stay within their task."""
from __future__ import annotations

from annotation.convert import spec_from_config
from annotation.sync import apply_tasks
from annotation.templates import get_template
from annotation.webhook import store_event
from storage.engine import session_scope
from storage.label_models import Annotation, LabelingProject, Task

CONFIG = get_template("image-classification").label_config(["cat", "dog"])


def choice(label: str) -> list[dict]:
    return [{"id": "c", "type": "choices", "from_name": "label", "to_name": "image", "value": {"choices": [label]}}]


def setup(store) -> list[tuple[int, int]]:
    """Two projects (before and after a reset) with two tasks each: [(project id, task row id), ...]."""
    out = []
    with session_scope(store.sessions) as session:
        for n, ls_project in enumerate((1, 2)):
            project = LabelingProject(name=f"scope-{n}", template="image-classification", labels=["cat", "dog"],
                                      label_config=CONFIG, ls_project_id=ls_project)
            session.add(project)
            session.flush()
            for ls_task in (1, 2):
                task = Task(project_id=project.id, sample_key=f"asset:{ls_task}", ls_task_id=ls_task)
                session.add(task)
                session.flush()
                out.append((project.id, task.id))
    return out


def apply(store, project_id: int, ls_task: int, annotations: list[dict], complete: bool = False):
    with session_scope(store.sessions) as session:
        return apply_tasks(session, project_id, spec_from_config(CONFIG), [{"id": ls_task, "annotations": annotations}],
                           via="pull", complete=complete, users={})


def revisions(store) -> list[tuple[int, int, int, str, bool]]:
    with session_scope(store.sessions) as session:
        return sorted((a.task_id, a.ls_annotation_id, a.revision, a.targets[0]["label"], a.deleted_at is not None)
                      for a in session.query(Annotation))


def test_same_ls_annotation_id_in_other_tasks_starts_its_own_revisions(store):
    (p1, t1), (_, t2), (p2, t3), _ = setup(store)
    assert apply(store, p1, 1, [{"id": 7, "result": choice("cat")}]).revisions == 1
    # after the reset Label Studio hands out id 7 again, in another task of the same and of another project
    assert apply(store, p1, 2, [{"id": 7, "result": choice("dog")}]).revisions == 1
    assert apply(store, p2, 1, [{"id": 7, "result": choice("dog")}]).revisions == 1
    assert revisions(store) == [(t1, 7, 1, "cat", False), (t2, 7, 1, "dog", False), (t3, 7, 1, "dog", False)]
    # a complete pull of task 2 without annotation 7 deletes it there only
    assert apply(store, p1, 2, [], complete=True).deleted == 1
    assert revisions(store) == [(t1, 7, 1, "cat", False), (t2, 7, 1, "dog", True), (t3, 7, 1, "dog", False)]
    # a webhook deletion in the second project leaves the first project's annotation 7 alone
    event = {"action": "ANNOTATIONS_DELETED", "project": {"id": 2}, "annotations": [{"id": 7}]}
    assert store_event(store, event, {}) == {"deleted": 1}
    assert revisions(store) == [(t1, 7, 1, "cat", False), (t2, 7, 1, "dog", True), (t3, 7, 1, "dog", True)]
