"""SearchQA: the generated encyclopedia, its questions, the env's tools and rewards, loaders."""

from __future__ import annotations

import itertools
import json
import re
import warnings
from collections import Counter

import pytest
from malformed import malformed_calls

from agentgym.core.tool_calls import ToolCall, render_tool_calls
from agentgym.envs.tool.search import datasets
from agentgym.envs.tool.search.env import SearchQAEnv
from agentgym.envs.tool.search.questions import ATTRIBUTE_TEXT, RELATION_TEXT, generate_questions
from agentgym.envs.tool.search.scoring import exact_match, normalize, token_f1
from agentgym.envs.tool.search.world import RELATIONS, build_world

SMALL = {"n_articles": 2000, "n_questions": 600}


def act(name: str, **arguments) -> str:
    return render_tool_calls([ToolCall(name, arguments)])


@pytest.fixture(scope="module")
def small_env():
    return SearchQAEnv(split="all", **SMALL)


# --- the world --------------------------------------------------------------------------------
def test_world_is_deterministic_and_seeded():
    a, b, c = build_world(600, seed=3), build_world(600, seed=3), build_world(600, seed=4)
    assert a.articles == b.articles and [e.name for e in a.entities] == [e.name for e in b.entities]
    assert a.articles != c.articles


def test_world_has_unique_names_typed_relations_and_near_duplicates():
    world = build_world(20_000, seed=0)
    assert len(world.articles) == 20_000
    names = [e.name for e in world.entities]
    assert len(set(names)) == len(names)
    kinds = Counter(e.kind for e in world.entities)
    assert set(kinds) == set(RELATIONS) and min(kinds.values()) >= 100
    for e in world.entities:  # every relation is present, typed, and written in the article
        assert set(e.rel) <= set(RELATIONS[e.kind])
        for relation, target in e.rel.items():
            assert world.entities[target].kind == RELATIONS[e.kind][relation]
            assert world.entities[target].name in world.articles[e.index], (e.name, relation)
    twins = [e for e in world.entities if e.twin is not None]
    assert len(twins) > 1000
    for e in twins[:200]:
        twin = world.entities[e.twin]
        assert twin.twin == e.index and twin.kind == e.kind and twin.name != e.name
        assert f"not to be confused with {twin.name}" in world.articles[e.index]
    assert all(len(a.split("\n\n")) >= 2 for a in world.articles)


def test_questions_have_unique_answers_reachable_through_their_chain():
    world = build_world(3000, seed=1)
    by_name = {e.name: e for e in world.entities}
    questions = generate_questions(world, 1500, seed=1)
    assert Counter(q.hops for q in questions).keys() == {1, 2, 3, 4}
    assert len({q.question for q in questions}) == len(questions)
    assert [q.split for q in questions[:10]] == ["test", *["train"] * 4] * 2
    for q in questions:
        anchor = by_name[q.chain[0][1]]
        # The anchor is named verbatim; its name picks exactly one entity.
        assert anchor.name in q.question
        # Walking the chain: each bridge is a relation target of the previous subject.
        for (_, subject), (_, nxt) in zip(q.chain, q.chain[1:], strict=False):
            assert by_name[nxt].index in by_name[subject].rel.values()
        last = by_name[q.chain[-1][1]]
        # The answer is a relation target or an attribute of the last subject, stated in its
        # article.
        targets = {world.entities[i].name for i in last.rel.values()} | set(last.attrs.values())
        assert q.answer in targets
        assert q.answer in world.articles[last.index] or q.answer.isdigit()
        assert len(q.chain) == q.hops and len(set(q.chain)) == q.hops


def test_question_text_follows_the_relations():
    world = build_world(800, seed=2)
    by_name = {e.name: e for e in world.entities}
    for q in generate_questions(world, 400, seed=2):
        # Rebuild the text from the chain: nest one noun phrase per bridge, then ask.
        anchor = by_name[q.chain[0][1]]
        phrase = f'"{anchor.name}"' if anchor.kind in ("book", "film", "album") else anchor.name
        subjects = [by_name[name] for _, name in q.chain]
        for subject, nxt in itertools.pairwise(subjects):
            relation = next(r for r, t in subject.rel.items() if t == nxt.index)
            phrase = RELATION_TEXT[(subject.kind, relation)][0].format(x=phrase)
        last = subjects[-1]
        asks = [RELATION_TEXT[(last.kind, r)][1].format(x=phrase)
                for r, t in last.rel.items() if world.entities[t].name == q.answer]
        asks += [ATTRIBUTE_TEXT[(last.kind, a)].format(x=phrase)
                 for a, v in last.attrs.items() if v == q.answer and (last.kind, a) in
                 ATTRIBUTE_TEXT]
        assert q.question in asks


# --- the env ----------------------------------------------------------------------------------
def test_expert_solves_every_task_in_a_500_task_sample():
    env = SearchQAEnv(split="test")  # the registered default: 20k articles
    assert len(env.corpus) == 20_000 and len(env.questions) == 2000
    searched = found_by_search = 0
    for seed in range(500):
        _, info = env.reset(seed=seed)
        for _ in range(20):
            action = env.expert_action()
            if '"search"' in action:
                searched += 1
            _, _, terminated, truncated, info = env.step(action)
            if '"search"' in action:
                found_by_search += info["reward_parts"]["retrieval_gain"] > 0
            if terminated or truncated:
                break
        assert info["success"] and info["em"] == 1.0, env.question
    # Searching an entity's exact name nearly always ranks its article in the top 5.
    assert found_by_search >= 0.97 * searched


def test_tools_and_reset_info(small_env):
    obs, info = small_env.reset(seed=0)
    q = small_env.question
    assert info["answer"] == q.answer and q.answer not in obs.split("Question:")[0]
    assert info["instruction"] == q.question and f"Question: {q.question}" in obs
    assert [t["function"]["name"] for t in info["tools"]] == ["search", "open", "answer"]
    assert info["state_key"] == "gold found: none"
    assert info["gold_docs"] == [d for d, _ in q.chain]


def test_reward_parts_by_hand(small_env):
    env = small_env
    q = next(q for q in env.questions if q.hops == 2)
    env.reset(options={"task_id": q.id})
    (anchor_id, anchor), (bridge_id, bridge) = q.chain
    _, reward, _, _, info = env.step(act("search", query=anchor, k=5))
    hits = env._last_results
    assert anchor_id in hits
    assert info["reward_parts"]["retrieval_gain"] == pytest.approx(0.5)
    assert info["reward_parts"]["redundancy"] == 0.0
    assert info["state_key"] == f"gold found: {anchor_id}"
    assert reward == pytest.approx(0.1 * 0.5)
    # The same search again: nothing new, every result re-retrieved.
    _, reward, _, _, info = env.step(act("search", query=anchor, k=5))
    assert info["reward_parts"]["retrieval_gain"] == 0.0
    assert info["reward_parts"]["redundancy"] == -1.0 and reward == pytest.approx(-0.1)
    # An invalid action costs the format part at the end.
    _, _, _, _, info = env.step("search for it please")
    assert not info["action_valid"] and info["state_key"] == f"gold found: {anchor_id}"
    # Two searches in one reply: the bridge's name and a repeat; gain counts the new gold doc.
    text = render_tool_calls([ToolCall("search", {"query": bridge, "k": 3}),
                              ToolCall("search", {"query": anchor, "k": 2})])
    _, _, _, _, info = env.step(text)
    assert info["reward_parts"]["retrieval_gain"] == pytest.approx(0.5)
    assert info["state_key"] == "gold found: " + ",".join(sorted([anchor_id, bridge_id]))
    _, reward, terminated, _, info = env.step(act("answer", text=f"the {q.answer.upper()}!"))
    assert terminated and info["success"] and info["em"] == 1.0
    assert info["reward_parts"] == {"outcome": 1.0, "retrieval_gain": 0.0, "redundancy": 0.0,
                                    "format": 0.0}
    assert reward == pytest.approx(1.0)


def test_wrong_answer_and_f1_outcome():
    env = SearchQAEnv(split="all", outcome_metric="f1", **SMALL)
    q = next(q for q in env.questions if len(q.answer.split()) == 2 and not
             q.answer.lower().startswith(("the ", "a ", "an ")))
    env.reset(options={"task_id": q.id})
    first = q.answer.split()[0]
    _, _, terminated, _, info = env.step(act("answer", text=first))
    assert terminated and not info["success"] and info["em"] == 0.0
    assert info["f1"] == pytest.approx(2 / 3)  # precision 1, recall 1/2
    assert info["reward_parts"]["outcome"] == pytest.approx(2 / 3)
    assert info["reward_parts"]["format"] == 1.0


def test_protocol_errors(small_env):
    env = small_env
    env.reset(seed=1)
    key = env._state_key()
    cases = {
        act("open", doc_id="d999999"): "no article has doc_id",
        render_tool_calls([ToolCall("answer", {"text": "x"}),
                           ToolCall("search", {"query": "x"})]): "answer at most once",
        act("search", query="x", k=50): "maximum",
        act("search", query=""): "query",
        act("search", k=3): "missing required argument 'query'",
    }
    for text, message in cases.items():
        obs, _, terminated, _, info = env.step(text)
        assert not info["action_valid"] and message in obs and not terminated
        assert info["state_key"] == key
    _, _, terminated, _, info = env.step(act("answer", text="x"))
    assert terminated
    _, _, _, _, info = env.step(act("answer", text="again"))
    assert not info["action_valid"] and "ended" in info["error"]


def test_open_and_search_observations(small_env):
    env = small_env
    env.reset(seed=2)
    doc_id, name = env.question.chain[0]
    obs, *_ = env.step(act("search", query=name, k=3))
    assert obs.startswith("<tool_response>\nsearch(") and f"[{doc_id}] {name}:" in obs
    assert len(re.findall(r"^\d+\. \[d\d{6}\]", obs, re.M)) <= 3
    obs, *_ = env.step(act("open", doc_id=doc_id))
    assert env.corpus.get(doc_id).text in obs


def test_malformed_calls_are_invalid_actions(small_env):
    env = small_env
    _, info = env.reset(seed=4)
    key = info["state_key"]
    extra = [render_tool_calls([ToolCall("answer", {"text": "a"}), ToolCall("open", {
        "doc_id": "d000001"})]), act("open", doc_id="nope"), act("search", query="x", k=0)]
    labels = Counter()
    for label, text in malformed_calls(env.tools, n=1000, seed=1, extra=extra):
        obs, _, terminated, truncated, info = env.step(text)
        assert not info["action_valid"], (label, text[:200])
        assert info["state_key"] == key and not terminated and not truncated
        assert obs.startswith("Invalid action:")
        labels[label] += 1
    assert len(labels) >= 12


# --- cache and loaders ------------------------------------------------------------------------
def test_generated_dataset_is_cached_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTGYM_CACHE_DIR", str(tmp_path))
    built = datasets.generated(500, seed=9, n_questions=100, use_cache=True)
    assert not built.meta.get("cached") and built.meta["seconds"]["total"] > 0
    folders = list((tmp_path / "searchqa").iterdir())
    assert len(folders) == 1 and (folders[0] / "docs.jsonl").exists()
    datasets._memory.clear()
    loaded = datasets.generated(500, seed=9, n_questions=100, use_cache=True)
    assert loaded.meta.get("cached")
    assert [d.text for d in loaded.corpus.documents] == [d.text for d in built.corpus.documents]
    assert loaded.questions == built.questions
    q = built.questions[0].chain[0][1]
    assert [h.doc_id for h in loaded.corpus.search(q)] == [h.doc_id for h in
                                                          built.corpus.search(q)]


def _write(path, rows, jsonl=False):
    path.write_text("\n".join(json.dumps(r) for r in rows) if jsonl else json.dumps(rows))
    return str(path)


CORPUS = [
    {"id": "w1", "title": "Alder Vane", "text": "Alder Vane is a painter born in Kestrel Bay."},
    {"id": "w2", "title": "Kestrel Bay", "text": "Kestrel Bay is a town whose mayor is Ida Moor."},
    {"id": "w3", "title": "Ida Moor", "text": "Ida Moor is a politician."},
    {"id": "w4", "title": "Bram Holt", "text": "Bram Holt wrote the novel Grey Tide."},
    {"id": "w5", "title": "Grey Tide", "text": "Grey Tide is a novel by Bram Holt, 1951."},
]


def hotpot_file(tmp_path):
    return _write(tmp_path / "hotpot.json", [
        {"_id": "h1", "question": "Who is the mayor of the town where Alder Vane was born?",
         "answer": "Ida Moor", "type": "bridge", "level": "easy",
         "supporting_facts": [["Alder Vane", 0], ["Kestrel Bay", 0]],
         "context": [["Alder Vane", ["Alder Vane is a painter", " born in Kestrel Bay."]],
                     ["Kestrel Bay", ["Kestrel Bay is a town", " whose mayor is Ida Moor."]],
                     ["Ida Moor", ["Ida Moor is a politician."]]]},
        {"_id": "h2", "question": "In which year was Grey Tide published?", "answer": "1951",
         "supporting_facts": [["Grey Tide", 0]],
         "context": [["Grey Tide", ["Grey Tide is a novel by Bram Holt, 1951."]]]},
        {"_id": "h3", "question": "Unanswerable here?", "answer": "x",
         "supporting_facts": [["Missing Page", 0]], "context": [["Missing Page", ["..."]]]},
    ])


def musique_file(tmp_path):
    return _write(tmp_path / "musique.jsonl", [
        {"id": "2hop__1_2", "question": "Who is the mayor of the birthplace of Alder Vane?",
         "answer": "Ida Moor", "answer_aliases": ["I. Moor"], "answerable": True,
         "paragraphs": [
             {"idx": 0, "title": "Kestrel Bay", "is_supporting": True,
              "paragraph_text": "Kestrel Bay is a town whose mayor is Ida Moor."},
             {"idx": 1, "title": "Bram Holt", "is_supporting": False,
              "paragraph_text": "Bram Holt wrote the novel Grey Tide."},
             {"idx": 2, "title": "Alder Vane", "is_supporting": True,
              "paragraph_text": "Alder Vane is a painter born in Kestrel Bay."}],
         "question_decomposition": [
             {"id": 1, "question": "Alder Vane >> place of birth", "answer": "Kestrel Bay",
              "paragraph_support_idx": 2},
             {"id": 2, "question": "#1 >> mayor", "answer": "Ida Moor",
              "paragraph_support_idx": 0}]},
        {"id": "2hop__3_4", "question": "Skip me", "answer": "?", "answerable": False,
         "paragraphs": [], "question_decomposition": []},
    ], jsonl=True)


@pytest.mark.parametrize("fmt", ["hotpotqa", "musique"])
@pytest.mark.parametrize("with_corpus", [True, False])
def test_loaders_with_and_without_a_user_corpus(tmp_path, fmt, with_corpus):
    qa = hotpot_file(tmp_path) if fmt == "hotpotqa" else musique_file(tmp_path)
    corpus = _write(tmp_path / "corpus.jsonl", CORPUS, jsonl=True) if with_corpus else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = SearchQAEnv(dataset=fmt, qa_path=qa, corpus_path=corpus)
    dropped = [str(w.message) for w in caught if "dropped" in str(w.message)]
    # h3's supporting page is only in the QA file's own context, not in the user corpus.
    assert len(dropped) == (1 if fmt == "hotpotqa" and with_corpus else 0)
    if dropped:
        assert "1 questions dropped" in dropped[0]
    first = env.questions[0]
    assert first.answer == "Ida Moor"
    titles = [t for _, t in first.chain]
    assert titles == ["Alder Vane", "Kestrel Bay"]
    if with_corpus:
        assert [d for d, _ in first.chain] == ["w1", "w2"] and len(env.corpus) == 5
    if fmt == "musique":
        assert first.aliases == ("I. Moor",) and len(env.questions) == 1
    for q in env.questions:
        env.reset(options={"task_id": q.id})
        while True:
            _, _, terminated, _, info = env.step(env.expert_action())
            if terminated:
                break
        assert info["success"], q
    if fmt == "musique":  # an alias counts as exact match
        env.reset(options={"task_id": first.id})
        assert env.step(act("answer", text="i moor"))[4]["em"] == 1.0


def test_bad_corpus_lines_are_named(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "a", "title": "A", "text": "x"}\n{"id": "a", "title": "B", '
                    '"text": "y"}\n')
    with pytest.raises(ValueError, match=r"c.jsonl:2: document id 'a' appears twice"):
        datasets.load_corpus_jsonl(path)
    path.write_text('{"id": "a", "title": "A"}\n')
    with pytest.raises(ValueError, match=r"c.jsonl:1: expected a JSON object"):
        datasets.load_corpus_jsonl(path)
    qa = hotpot_file(tmp_path)
    path.write_text('{"id": "z", "title": "Nothing", "text": "here"}\n')
    with pytest.raises(ValueError, match="no question has all its supporting articles"), \
            pytest.warns(UserWarning):
        datasets.load_hotpotqa(qa, path)


# --- scoring ----------------------------------------------------------------------------------
def test_answer_normalization_and_scores_by_hand():
    assert normalize("The  Silent Harbor!") == "silent harbor"
    assert normalize("An apple, a day") == "apple day"
    assert exact_match("the Orvik press.", ["Orvik Press"]) == 1.0
    assert exact_match("Orvik", ["Orvik Press"]) == 0.0
    assert token_f1("Orvik", ["Orvik Press"]) == pytest.approx(2 / 3)
    assert token_f1("press press orvik", ["Orvik Press"]) == pytest.approx(0.8)  # p 2/3, r 1
    assert token_f1("nothing", ["Orvik Press"]) == 0.0
    assert token_f1("x y", ["q", "x y"]) == 1.0
