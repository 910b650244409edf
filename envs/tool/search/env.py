"""``agentgym/SearchQA-v0``: multi-hop question answering with a BM25 search tool.

The agent answers a question (1–4 hops over a generated encyclopedia of fictional entities, or
HotpotQA / MuSiQue questions over a user corpus) with three tools:

* ``search(query, k=5)`` — the top ``k`` (1–20) articles by BM25, each ``[doc_id] title:
  snippet``;
* ``open(doc_id)`` — the whole article;
* ``answer(text)`` — the final answer; ends the episode.

An action is raw model text holding one or more tool calls (parsed by
:mod:`agentgym.core.tool_calls`; ``answer`` must come last). Malformed calls, unknown functions,
bad arguments and unknown document ids are invalid actions: nothing happens and the observation
says why.

Reward parts (StepSearch-style per-step parts, Search-R1 / IGPO outcome):

* ``outcome`` (answer step): exact match of the normalized answer (``outcome_metric="em"``,
  default) or token F1 (``"f1"``); ``info`` carries both as ``em`` and ``f1``.
* ``retrieval_gain`` (search steps): the share of the question's gold articles that this step's
  searches surfaced for the first time (sums to at most 1 over an episode).
* ``redundancy`` (search steps, ≤ 0): minus the share of this step's results that had already
  been retrieved in the episode.
* ``format`` (answer step): 1 when no action of the episode was invalid.

The reward is ``Σ weight·part`` with weights outcome 1, retrieval_gain 0.1, redundancy 0.1,
format 0.1 (override with ``reward_weights``). ``info["answer"]`` holds the ground truth (for
information-gain credit; never in the prompt), and ``state_key`` names the set of gold articles
found so far (surfaced by a search or opened), the anchor state for GiGPO.
"""

from __future__ import annotations

from typing import Any

from agentgym.core.env import TextEnv
from agentgym.core.tool_calls import (
    ToolCall,
    ToolCallError,
    ToolSet,
    parse_tool_calls,
    render_tool_calls,
)
from agentgym.envs.tool.search import datasets
from agentgym.envs.tool.search.questions import Question
from agentgym.envs.tool.search.scoring import exact_match, token_f1

MAX_K = 20
DEFAULT_K = 5

TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {
        "name": "search",
        "description": "Search the encyclopedia. Returns the best-matching articles, each as "
                       "[doc_id] title: the start of the article.",
        "parameters": {"type": "object", "properties": {
            "query": {"type": "string", "minLength": 1, "description": "Words to search for."},
            "k": {"type": "integer", "minimum": 1, "maximum": MAX_K,
                  "description": f"How many results to return (1-{MAX_K}, default {DEFAULT_K})."},
        }, "required": ["query"]},
    }},
    {"type": "function", "function": {
        "name": "open",
        "description": "Read a whole article by its doc_id (from a search result).",
        "parameters": {"type": "object", "properties": {
            "doc_id": {"type": "string", "description": "The article id, e.g. d000123."},
        }, "required": ["doc_id"]},
    }},
    {"type": "function", "function": {
        "name": "answer",
        "description": "Give your final answer (a short phrase, e.g. a name or a year). This "
                       "ends the episode.",
        "parameters": {"type": "object", "properties": {
            "text": {"type": "string", "description": "The answer."},
        }, "required": ["text"]},
    }},
]
_TOOLSET = ToolSet(TOOLS)

INTRO = (
    "Answer the question using the encyclopedia. Call search(query, k) to find articles, "
    "open(doc_id) to read one, and answer(text) with a short final answer (a name or a year) "
    "when you know it. The question may need several steps: find the first entity, read its "
    "article, then search for the next one."
)
DEFAULT_WEIGHTS = {"outcome": 1.0, "retrieval_gain": 0.1, "redundancy": 0.1, "format": 0.1}
PART_NAMES = tuple(DEFAULT_WEIGHTS)
DATASETS = ("generated", "hotpotqa", "musique")


class SearchQAEnv(TextEnv):
    """Multi-hop QA over a local corpus with BM25 search (see the module docstring).

    Args:
        dataset: ``generated`` (the encyclopedia), ``hotpotqa`` or ``musique`` (``qa_path``
            required; ``corpus_path`` optional).
        split: ``train``, ``test`` or ``all`` (generated questions; loaded files are one split).
        n_articles, seed, n_questions, hops: the generated dataset (see
            :func:`~agentgym.envs.tool.search.datasets.generated`).
        qa_path, corpus_path: the question file and the ``{"id","title","text"}`` JSONL corpus.
        outcome_metric: ``em`` or ``f1``.
        reward_weights: weights of the reward parts (default :data:`DEFAULT_WEIGHTS`).
        render_mode: ``None`` or ``"ansi"``.

    ``reset(seed=i)`` asks question ``i mod n`` of the split; ``options={"task_id": "q000005"}``
    picks one by id.
    """

    def __init__(
        self,
        dataset: str = "generated",
        split: str = "train",
        n_articles: int = 20_000,
        seed: int = 0,
        n_questions: int = 10_000,
        hops: tuple[int, int] | list[int] = (1, 4),
        qa_path: str | None = None,
        corpus_path: str | None = None,
        outcome_metric: str = "em",
        reward_weights: dict[str, float] | None = None,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(reward_weights={**DEFAULT_WEIGHTS, **(reward_weights or {})},
                         render_mode=render_mode)
        if dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
        if split not in ("train", "test", "all"):
            raise ValueError(f"split must be train, test or all, got {split!r}")
        if outcome_metric not in ("em", "f1"):
            raise ValueError(f"outcome_metric must be 'em' or 'f1', got {outcome_metric!r}")
        if dataset == "generated":
            data = datasets.generated(n_articles, seed, n_questions, tuple(hops))
        else:
            if qa_path is None:
                raise ValueError(f"dataset={dataset!r} needs qa_path (and optionally corpus_path)")
            loader = datasets.load_hotpotqa if dataset == "hotpotqa" else datasets.load_musique
            data = loader(qa_path, corpus_path)
        self.data = data
        self.corpus = data.corpus
        self.questions = [q for q in data.questions
                          if split == "all" or q.split in (split, "all")]
        if not self.questions:
            raise ValueError(f"no questions in split {split!r}")
        self.outcome_metric = outcome_metric
        self.question: Question | None = None
        self._new_episode()

    #: A tiny model's tokenizer learns no merge that joins a word to the space or punctuation
    #: before it, so a name read in the question or an article (`` Meass College``) is the same
    #: tokens inside a tool call's JSON string (``"Meass College"``): copying it is copying tokens.
    tokenizer_spaces_apart = True

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The tool specs (``search``, ``open``, ``answer``) in OpenAI format."""
        return [dict(t) for t in TOOLS]

    # -- episode state -------------------------------------------------------------------------
    def _new_episode(self) -> None:
        self.done = False
        self._retrieved: set[str] = set()
        self._opened: set[str] = set()
        self._queries: set[str] = set()
        self._last_results: list[str] = []
        self._clean = True
        self._last_obs = ""

    def _found_gold(self) -> set[str]:
        assert self.question is not None
        return set(self.question.gold) & (self._retrieved | self._opened)

    def _state_key(self) -> str:
        found = sorted(self._found_gold())
        return "gold found: " + (",".join(found) if found else "none")

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        question = self.choose_task(self.questions, seed=seed, options=options)
        self.question = question
        self._new_episode()
        self._last_obs = f"{INTRO}\n\nQuestion: {question.question}"
        info = self.reset_info(
            task_id=question.id,
            instruction=question.question,
            state_key=self._state_key(),
            answer=question.answer,
            tools=self.tools,
            hops=question.hops,
            split=question.split,
            gold_docs=[doc for doc, _ in question.chain],
        )
        return self._last_obs, info

    def _invalid(self, message: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        self._clean = False
        parts = dict.fromkeys(PART_NAMES, 0.0)
        obs = f"Invalid action: {message}\nNothing happened; reply again with valid tool calls."
        info = self.step_info(state_key=self._state_key(), action_valid=False,
                              reward_parts=parts, error=message)
        return obs, self.reward_from_parts(parts), False, False, info

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self.question is None:
            raise RuntimeError("call reset() before step()")
        if self.done:
            return self._invalid("the episode has ended; call reset() for a new question")
        if not isinstance(action, str):
            return self._invalid(f"the action must be text, got {type(action).__name__}")
        try:
            calls = parse_tool_calls(action, _TOOLSET)
        except ToolCallError as err:
            return self._invalid(str(err))
        answers = [i for i, c in enumerate(calls) if c.name == "answer"]
        if answers and (len(answers) > 1 or answers[0] != len(calls) - 1):
            return self._invalid("call answer at most once, as the last call of a reply")
        for call in calls:
            if call.name == "open" and self.corpus.get(call.arguments["doc_id"]) is None:
                return self._invalid(f"no article has doc_id {call.arguments['doc_id']!r}; "
                                     "use an id from the search results")

        question = self.question
        parts = dict.fromkeys(PART_NAMES, 0.0)
        pieces: list[str] = []
        extra: dict[str, Any] = {}
        gold_before = self._found_gold()
        seen_before = set(self._retrieved)
        n_results = n_repeats = 0
        terminated = success = False
        for call in calls:
            if call.name == "search":
                query = call.arguments["query"]
                k = int(call.arguments.get("k", DEFAULT_K))
                hits = self.corpus.search(query, k)
                self._queries.add(query)
                self._last_results = [h.doc_id for h in hits]
                n_results += len(hits)
                n_repeats += sum(1 for h in hits if h.doc_id in seen_before)
                seen_before |= set(self._last_results)
                self._retrieved |= set(self._last_results)
                lines = [f"{i}. [{h.doc_id}] {h.title}: {h.snippet}" for i, h in
                         enumerate(hits, 1)] or ["(no results)"]
                pieces.append(_response(f"search({query!r}, k={k})", lines))
            elif call.name == "open":
                doc = self.corpus.get(call.arguments["doc_id"])
                assert doc is not None
                self._opened.add(doc.id)
                pieces.append(_response(f"[{doc.id}] {doc.title}", [doc.text]))
            else:
                given = call.arguments["text"]
                truths = (question.answer, *question.aliases)
                em, f1 = exact_match(given, truths), token_f1(given, truths)
                parts["outcome"] = em if self.outcome_metric == "em" else f1
                parts["format"] = 1.0 if self._clean else 0.0
                extra.update(em=em, f1=f1, given_answer=given)
                terminated, success = True, em == 1.0
                self.done = True
                pieces.append(f"You answered: {given}. The episode is over.")
        gold = question.gold
        new_gold = {d for d in self._retrieved & gold} - gold_before
        if n_results:
            parts["retrieval_gain"] = len(new_gold) / len(gold)
            parts["redundancy"] = -n_repeats / n_results
        self._last_obs = "\n".join(pieces)
        info = self.step_info(
            state_key=self._state_key(),
            action_valid=True,
            reward_parts=parts,
            success=success,
            gold_found=len(self._found_gold()),
            **extra,
        )
        return self._last_obs, self.reward_from_parts(parts), terminated, False, info

    # -- optional API --------------------------------------------------------------------------
    def expert_action(self) -> str:
        """Search each hop's entity by name, open its article, then answer."""
        if self.question is None or self.done:
            return render_tool_calls([ToolCall("answer", {"text": ""})])
        for doc_id, name in self.question.chain:
            if doc_id in self._opened:
                continue
            if doc_id in self._last_results or name in self._queries:
                # (a search for the name that missed the article: open it by id)
                return render_tool_calls([ToolCall("open", {"doc_id": doc_id})])
            return render_tool_calls([ToolCall("search", {"query": name, "k": DEFAULT_K})])
        return render_tool_calls([ToolCall("answer", {"text": self.question.answer})])

    def render(self) -> str | None:
        return self._last_obs if self.render_mode == "ansi" else None


def _response(header: str, lines: list[str]) -> str:
    body = "\n".join(lines)
    return f"<tool_response>\n{header}\n{body}\n</tool_response>"
