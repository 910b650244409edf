"""``agentgym/Collab-v0``: the generated tasks, the scripted collaborator, grading in a real
docker sandbox, prompt isolation of the hidden information and container clean-up."""

from __future__ import annotations

import re

import pytest

import agentgym
from agentgym.core.multiagent import collect_multiagent
from agentgym.core.policies import ExpertPolicy, ScriptedPolicy
from agentgym.envs.multiagent.collab.env import CollabEnv, extract_code
from agentgym.envs.multiagent.collab.grading import (
    expected_outputs,
    grade,
    run_reference,
    same,
)
from agentgym.envs.multiagent.collab.simulator import answer, stem
from agentgym.envs.multiagent.collab.tasks import (
    all_tasks,
    families,
    family_variants,
    tasks_for,
)
from agentgym.sandboxes.docker import DockerSandbox

TASKS = all_tasks()


# -- tasks ----------------------------------------------------------------------------------------
def test_at_least_200_distinct_tasks_in_two_splits():
    assert len(TASKS) >= 200
    assert len({t.task_id for t in TASKS}) == len(TASKS)
    assert {t.family for t in TASKS} == set(families()) and len(families()) == 13
    train, test = tasks_for("train"), tasks_for("test")
    assert len(train) + len(test) == len(TASKS) and len(test) >= 40
    assert {t.family for t in test} == set(families())
    with pytest.raises(ValueError, match="split"):
        tasks_for("valid")


def test_every_hidden_fact_changes_the_expected_outputs():
    # Getting any single hidden detail wrong fails at least one hidden test: asking matters.
    for task in TASKS:
        expected = expected_outputs(task)
        for knob, source in family_variants(task):
            assert tuple(run_reference(source, task.function, task.cases)) != expected, (
                task.task_id, knob)


def test_the_collaborator_answers_each_fact_from_its_question():
    for task in TASKS:
        for fact in task.facts:
            assert answer(task, fact.question) == fact.sentence, (task.task_id, fact.topic)
    task = TASKS[0]
    reply = answer(task, "What is your favourite colour?")
    assert all(f.topic in reply for f in task.facts)
    assert not any(f.sentence in reply for f in task.facts)  # topics only, never the content
    assert {stem(w) for w in ("named", "names", "naming", "name")} == {"nam"}


def test_canonical_comparison():
    assert same(["num", 0.1 + 0.2], ["num", 0.3])
    assert not same(["num", 1.0], ["bool", True])
    assert not same(["list", [["num", 1.0]]], ["tuple", [["num", 1.0]]])
    assert same(["dict", [[["str", "a"], ["num", 2.0]]]], ["dict", [[["str", "a"], ["num", 2]]]])
    assert not same(["str", "x"], "x")


def test_extract_code():
    assert extract_code("submit\n```python\ndef f():\n    return 1\n```\nthanks") == \
        "def f():\n    return 1\n"
    assert extract_code("SUBMIT: def f(): return 2") == "def f(): return 2\n"


def test_hidden_information_stays_out_of_the_coder_prompt():
    env = agentgym.make("agentgym/Collab-v0", split="all")
    for task in TASKS:
        env.reset(seed=task.index)
        assert env.task is task
        observation = env.observe("coder_0")
        prompt = observation + env.infos["coder_0"]["instruction"]
        for fact in task.facts:
            assert fact.sentence not in prompt, (task.task_id, fact.sentence)
        assert task.reference.strip().splitlines()[-1].strip() not in prompt
        info = env.infos["coder_0"]
        assert info["hidden_spec"] == task.spec and info["reference_solution"] == task.reference
        assert task.facts[0].sentence in env.observe("collaborator_0")  # the collaborator knows


def test_coder_prompts_in_a_rollout_hold_no_hidden_spec():
    seen: list[list[dict]] = []

    def coder(request):
        seen.append(request.messages)
        return "ask What should happen with an empty input?" if request.turn == 0 else \
            "ask anything else?"

    episodes = collect_multiagent("agentgym/Collab-v0", {"coder": ScriptedPolicy(coder)},
                                  range(3), max_turns=4)
    for episode in episodes:
        assert episode.info["hidden_spec"]  # training-time information is in the episode info
    for messages in seen:
        text = " ".join(m["content"] for m in messages)
        assert "Hidden specification" not in text and "reference" not in text.lower()
    first = " ".join(m["content"] for m in seen[0])
    task = tasks_for("train")[0]
    assert not any(f.sentence in first for f in task.facts)


def test_coder_questions_are_limited():
    env = CollabEnv(max_questions=1)
    env.reset(seed=0)
    env.step("ask What range should the output be in?")
    assert env.agent_selection == "collaborator_0"
    env.step(env.expert_action())
    assert env.task.facts[0].sentence in env.observe("coder_0")
    env.step("ask Should results be rounded?")
    assert env.infos["coder_0"]["action_valid"] is False
    assert "submit now" in env.observe("coder_0")
    for bad in ("hello", "ask", "submit", "asking nothing"):
        env.step(bad)
        assert env.infos["coder_0"]["action_valid"] is False
    assert env.last_grade is None  # nothing was graded


# -- grading in docker ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sandbox(docker):
    box = DockerSandbox()
    yield box
    box.close()


def test_reference_solutions_pass_their_hidden_tests(sandbox):
    sample = [t for t in TASKS if t.index % 8 in (0, 5)]  # 2 of each family's 16 tasks
    assert {t.family for t in sample} == set(families())
    for task in sample:
        sandbox.reset()
        result = grade(sandbox, task, task.reference)
        assert result.success and result.error is None, (task.task_id, result)


def test_wrong_and_hostile_submissions(sandbox):
    task = TASKS[0]  # normalize_scores/scale=unit,round=False,flat=zero,empty=list
    wrong_knob = next(src for knob, src in family_variants(task) if knob == "empty")
    hostile = {
        "a wrong hidden detail": (wrong_knob, lambda r: 0 < r.passed < r.total),
        "printing fake results": (
            "import atexit, json\n"
            "atexit.register(lambda: print('AGENTGYM-COLLAB-RESULTS ' + json.dumps("
            "{'outputs': [['list', []]] * 5})))\n"
            "def normalize_scores(s):\n    return []\n",
            lambda r: r.passed == 1),
        "reading the test inputs and exiting": (
            "import os\nprint(open('cases.txt').read())\nos._exit(0)\n",
            lambda r: r.passed == 0 and r.error),
        "a syntax error": ("def normalize_scores(:\n", lambda r: r.passed == 0 and "load" in
                           r.error),
        "an endless import": ("while True:\n    pass\n", lambda r: "TimeoutError" in r.error),
        "an endless function": ("def normalize_scores(s):\n    while True:\n        pass\n",
                                lambda r: r.passed == 0 and r.error is None),
    }
    for label, (code, check) in hostile.items():
        sandbox.reset()
        result = grade(sandbox, task, code)
        assert check(result), (label, result)
    # Nothing a submission left behind changes a later grading of the same sandbox.
    sandbox.reset()
    grade(sandbox, task, "import os\nopen('runner.py', 'w').write('print(1)')\n"
                         "open('/tmp/x', 'w').write('x')\n")
    sandbox.reset()
    assert grade(sandbox, task, task.reference).success


def test_the_expert_solves_tasks_through_a_rollout(docker):
    episodes = collect_multiagent("agentgym/Collab-v0", {"coder": ExpertPolicy()}, [0, 7])
    coders = [e for e in episodes if e.role == "coder"]
    assert len(coders) == 2 and all(e.success and e.outcome == 1.0 for e in coders)
    for episode in coders:
        asks = [t.action for t in episode.turns if t.action.startswith("ask")]
        assert len(asks) == 4 and episode.turns[-1].action.startswith("submit")
        assert episode.turns[-1].reward_parts == {"tests_passed": 1.0}
        assert episode.turns[-1].terminated
    collaborators = [e for e in episodes if e.role == "collaborator"]
    assert all(e.info["policy"] == "scripted-collaborator" for e in collaborators)


# -- clean-up ---------------------------------------------------------------------------------
def test_no_container_outlives_a_collab_run(count_containers):
    before = count_containers()
    collect_multiagent("agentgym/Collab-v0", {"coder": ExpertPolicy()}, range(3), num_envs=2)
    assert count_containers() == before

    class Boom(RuntimeError):
        pass

    submitted = []

    def coder_then_crash(request):
        if submitted:
            raise Boom("the policy crashed mid-run")
        submitted.append(request.episode_id)
        return "submit\n```python\ndef f():\n    return 1\n```"

    with pytest.raises(Boom):
        collect_multiagent("agentgym/Collab-v0", {"coder": ScriptedPolicy(coder_then_crash)},
                           range(4), num_envs=2, num_workers=0)
    assert submitted  # a container was started before the crash
    assert count_containers() == before


def test_closing_the_env_removes_its_container(count_containers):
    before = count_containers()
    env = CollabEnv()
    env.reset(seed=1)
    env.step(f"submit\n```python\n{env.task.reference}```")
    assert env.infos["coder_0"]["success"]
    assert count_containers() == before + 1
    env.reset(seed=2)  # the container is reused, wiped
    env.step("submit\n```python\nx = 1\n```")
    assert count_containers() == before + 1
    env.close()
    assert count_containers() == before
    assert re.match(r"collab/", env.infos["coder_0"]["task_id"])
