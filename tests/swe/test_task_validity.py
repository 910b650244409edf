"""The generated tasks hold in the grading sandbox (real containers), not only on the host.

The whole set is validated on the host when it is generated; here every bundled suite runs
unmutated in a container, and one task per repository goes through SWEEnv's grader: without a
fix its FAIL_TO_PASS tests fail and its PASS_TO_PASS tests pass; the gold patch resolves it.
(``benchmarks/swe_tasks.py --sandbox`` runs every task this way.)
"""

from __future__ import annotations

import json
import re

import pytest

from agentgym.envs.swe.env import SWEEnv
from agentgym.envs.swe.tasks import bundled_manifest, load_tasks, repo_files, repo_names
from agentgym.sandboxes.docker import DockerSandbox, make_tar


def call(name: str, **arguments) -> str:
    return json.dumps({"name": name, "arguments": arguments})


def test_every_bundled_suite_passes_unmutated_in_a_container(image):
    """Each repository's whole suite passes in the sandbox image, test for test."""
    names = repo_names()
    files = {f"{name}/{path}": text for name in names for path, text in repo_files(name).items()}
    script = " ; ".join(
        f"(cd {name} && echo '== {name}' && python3 -m pytest -p no:cacheprovider -q -rA "
        "--tb=short)" for name in names)
    with DockerSandbox(image) as sandbox:
        sandbox.put_archive(make_tar(files))
        result = sandbox.exec(script, timeout=600, max_output=2_000_000)
    sections = dict(re.findall(r"^== (\S+)\n(.*?)(?=^== |\Z)", result.output, re.S | re.M))
    assert sorted(sections) == names
    for name in names:
        passed = set(re.findall(r"^PASSED (\S+)", sections[name], re.M))
        assert passed == set(bundled_manifest()[name]["tests"]), sections[name][-2000:]
        assert not re.search(r"^(FAILED|ERROR) ", sections[name], re.M), sections[name][-2000:]


@pytest.mark.parametrize("repo", repo_names())
def test_task_is_valid_in_the_sandbox(image, repo):
    """No fix: every FAIL_TO_PASS test fails and every PASS_TO_PASS test passes in the
    sandbox; the gold patch resolves the task."""
    own = [t for t in load_tasks(None) if t.repo == repo]
    task = own[len(own) // 2]
    env = SWEEnv(split=None)
    try:
        env.reset(options={"task_id": task.instance_id})
        *_, info = env.step(call("submit"))
        parts = info["reward_parts"]
        assert (parts["f2p_rate"], parts["p2p_rate"]) == (0.0, 1.0), task.instance_id
        env.reset(options={"task_id": task.instance_id})
        assert env.step(call("apply_patch", patch=task.patch))[4]["action_valid"]
        _, reward, terminated, _, info = env.step(call("submit"))
        assert terminated and reward == 1.0, (task.instance_id, info["reward_parts"])
    finally:
        env.close()
