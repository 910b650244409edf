"""SWE-bench rows in the published format: loading, validation, and one row run offline.

``fixtures/swebench/rows.jsonl`` holds three hand-written rows with the published fields:

* ``acme__statlib-12``: a pytest row whose evaluation image the last test builds locally (the
  repository below, committed at the row's ``base_commit``), so it runs end to end;
* ``acme__webframe-3041``: django-style test names, which SWEEnv's pytest grading cannot run;
* ``acme__tinyhttp-77``: a pytest row whose image is not available offline.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentgym.envs.swe.swebench import (
    SWEBENCH_FIELDS,
    SWEBenchInstance,
    is_pytest_id,
    load_swebench,
    load_swebench_instances,
    offline_problems,
    read_rows,
    swebench_image,
)
from agentgym.envs.swe.tasks import load_swebench_instances as reexported

ROWS = Path(__file__).parent / "fixtures" / "swebench" / "rows.jsonl"

#: The statlib repository at the statlib row's base_commit.
STATLIB = {
    "statlib.py": '''"""statlib: small statistics helpers."""


def mean(values):
    """Arithmetic mean of a non-empty list."""
    if not values:
        raise ValueError("mean of no values")
    return sum(values) / len(values)


def median(values):
    """Middle value of a non-empty list (the mean of the two middle values for even lengths)."""
    if not values:
        raise ValueError("median of no values")
    ordered = sorted(values)
    return ordered[len(ordered) // 2]
''',
    "tests/test_statlib.py": '''from statlib import mean, median


def test_mean():
    assert mean([1, 2, 3, 4]) == 2.5


def test_median_odd():
    assert median([3, 1, 2]) == 2
''',
}
#: Author, committer and date of the base commit (they make its hash reproducible).
COMMIT_ENV = {
    "GIT_AUTHOR_NAME": "acme", "GIT_AUTHOR_EMAIL": "dev@acme.example",
    "GIT_COMMITTER_NAME": "acme", "GIT_COMMITTER_EMAIL": "dev@acme.example",
    "GIT_AUTHOR_DATE": "2023-03-14T09:26:53Z", "GIT_COMMITTER_DATE": "2023-03-14T09:26:53Z",
}


def raw_rows() -> list[dict]:
    return [json.loads(line) for line in ROWS.read_text().splitlines()]


def test_fixture_rows_use_the_published_format():
    """Every row has exactly the published fields, all strings; the test lists are
    JSON-encoded strings as in the published data."""
    for row in raw_rows():
        assert sorted(row) == sorted(SWEBENCH_FIELDS)
        assert all(isinstance(value, str) for value in row.values())
        assert isinstance(json.loads(row["FAIL_TO_PASS"]), list)


def test_loader_decodes_rows():
    """Rows load into instances with decoded test lists, and back to the same rows."""
    instances = load_swebench(ROWS)
    assert [i.instance_id for i in instances] == [
        "acme__statlib-12", "acme__webframe-3041", "acme__tinyhttp-77"]
    statlib = instances[0]
    assert statlib.FAIL_TO_PASS == ("tests/test_statlib.py::test_median_even",)
    assert statlib.PASS_TO_PASS == ("tests/test_statlib.py::test_mean",
                                    "tests/test_statlib.py::test_median_odd")
    assert statlib.version == "0.3" and statlib.created_at == "2023-03-15T10:02:41Z"
    assert statlib.hints_text.startswith("The odd case")
    assert [i.to_row() for i in instances] == raw_rows()


def test_rows_become_swebench_tasks():
    """to_task keeps what grading needs; the image is SWE-bench's name for the instance."""
    (task, *_) = load_swebench_instances(ROWS)
    row = raw_rows()[0]
    assert task.kind == "swebench" and task.split == "test" and task.source_dir == "/testbed"
    assert (task.patch, task.test_patch, task.base_commit) == (
        row["patch"], row["test_patch"], row["base_commit"])
    assert task.problem_statement == row["problem_statement"]
    assert task.FAIL_TO_PASS == ["tests/test_statlib.py::test_median_even"]
    assert task.image == "sweb.eval.x86_64.acme_1776_statlib-12:latest"
    assert task.files == {} and task.mutation == ""
    assert reexported is load_swebench_instances  # env.py imports it from tasks


def test_loader_accepts_lists_json_arrays_and_an_image_key(tmp_path):
    """Plain lists instead of JSON strings, a JSON array file, and an extra image key."""
    row = dict(raw_rows()[2], FAIL_TO_PASS=["tests/test_headers.py::test_folded_header"],
               image="local/tinyhttp:1")
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([row]))
    (instance,) = load_swebench(path)
    assert instance.FAIL_TO_PASS == ("tests/test_headers.py::test_folded_header",)
    assert instance.extra == {"image": "local/tinyhttp:1"}
    assert instance.to_task().image == "local/tinyhttp:1"
    assert read_rows([row]) == [row]


@pytest.mark.parametrize("change, message", [
    ({"patch": None}, "missing \\['patch'\\]"),
    ({"FAIL_TO_PASS": "[not json"}, "FAIL_TO_PASS is not a JSON list"),
    ({"PASS_TO_PASS": json.dumps({"a": 1})}, "PASS_TO_PASS must be a list of test names"),
    ({"FAIL_TO_PASS": json.dumps([1, 2])}, "FAIL_TO_PASS must be a list of test names"),
    ({"version": 3.1}, "version must be a string"),
])
def test_bad_rows_are_named(change, message):
    """A malformed row is a ValueError naming the row and the field."""
    row = {**raw_rows()[0], **change}
    row = {k: v for k, v in row.items() if v is not None}
    with pytest.raises(ValueError, match=message) as info:
        SWEBenchInstance.from_row(row)
    assert "acme__statlib-12" in str(info.value)


def test_bad_files_are_named(tmp_path):
    """A bad JSON Lines line and duplicate ids are errors naming the problem."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text(ROWS.read_text() + "{oops\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl:4"):
        load_swebench(bad)
    with pytest.raises(ValueError, match="duplicate SWE-bench instance_id acme__statlib-12"):
        load_swebench([raw_rows()[0], raw_rows()[0]])
    with pytest.raises(ValueError, match="JSON object"):
        SWEBenchInstance.from_row(["not", "a", "row"])


def test_image_name_and_test_id_styles():
    """SWE-bench's image naming, and which test ids pytest can run."""
    assert swebench_image("Owner__Proj-1") == "sweb.eval.x86_64.owner_1776_proj-1:latest"
    assert is_pytest_id("tests/test_x.py::test_a[param-1]") and is_pytest_id("tests/test_x.py")
    assert not is_pytest_id("test_plain (urls.tests.RedirectTests)")
    assert not is_pytest_id("test_issue_1234")


def test_offline_problems_say_what_cannot_run():
    """The django row cannot be graded; the tinyhttp row has no image; statlib needs only its
    image."""
    tasks = {t.repo: t for t in load_swebench_instances(ROWS)}
    present = {tasks["acme/statlib"].image}

    def has(image: str) -> bool:
        return image in present

    assert offline_problems(tasks["acme/statlib"], has) == []
    (django,) = [p for p in offline_problems(tasks["acme/webframe"], has) if "pytest" in p]
    assert "2 test id(s)" in django
    (missing,) = offline_problems(tasks["acme/tinyhttp"], has)
    assert "sweb.eval.x86_64.acme_1776_tinyhttp-77:latest" in missing


@pytest.fixture
def statlib_image(client, image):
    """SWE-bench's evaluation image of acme__statlib-12, built here from the sandbox image:
    the repository committed in /testbed at the row's base commit. Removed afterwards."""
    from agentgym.sandboxes.docker import make_tar
    from agentgym.sandboxes.docker.lifecycle import owner_labels

    tag = swebench_image("acme__statlib-12")
    container = client.containers.create(image, ["sleep", "infinity"], user="0:0",
                                         network_mode="none", labels=owner_labels())
    try:
        container.start()
        container.put_archive("/", make_tar({f"testbed/{p}": t for p, t in STATLIB.items()},
                                            uid=0, gid=0))
        code, output = container.exec_run(
            ["bash", "-c", "cd /testbed && git init -q && git add -A && "
                           "git commit -q -m 'statlib 0.3' && git rev-parse HEAD"],
            environment=COMMIT_ENV)
        assert code == 0, output.decode()
        repository, _, version = tag.rpartition(":")
        container.commit(repository=repository, tag=version)
    finally:
        container.remove(force=True)
    yield tag, output.decode().strip()
    client.images.remove(tag, force=True)


def test_statlib_row_runs_offline(statlib_image):
    """With its image present the published-format row runs in SWEEnv: the image holds the
    base commit; the empty patch leaves FAIL_TO_PASS failing, the gold patch resolves it."""
    from agentgym.envs.swe.env import SWEEnv
    from agentgym.sandboxes.docker import SandboxPool

    tag, head = statlib_image
    (task, *_) = load_swebench_instances(ROWS)
    assert head == task.base_commit and task.image == tag
    assert offline_problems(task) == []
    pool = SandboxPool(tag, size=0)
    env = SWEEnv(tasks=[task], pool=pool)
    try:
        env.reset(options={"task_id": task.instance_id})
        *_, info = env.step(json.dumps({"name": "submit", "arguments": {}}))
        parts = info["reward_parts"]
        assert (parts["f2p_rate"], parts["p2p_rate"], parts["resolved"]) == (0.0, 1.0, 0.0)
        env.reset(options={"task_id": task.instance_id})
        env.step(json.dumps({"name": "apply_patch", "arguments": {"patch": task.patch}}))
        _, reward, terminated, _, info = env.step(json.dumps({"name": "submit",
                                                              "arguments": {}}))
        assert terminated and reward == 1.0 and info["reward_parts"]["resolved"] == 1.0
    finally:
        env.close()
        pool.close()
