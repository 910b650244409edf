"""SearchQA datasets: the generated encyclopedia, and HotpotQA / MuSiQue files with a user corpus.

* :func:`generated` builds the world (:mod:`.world`), its questions (:mod:`.questions`) and the
  BM25 index once, caches them under ``cache_dir("searchqa")`` and keeps them in memory for the
  process. ``meta.json`` records how long each build stage took.
* :func:`load_hotpotqa` reads the HotpotQA JSON format (a list of ``{"_id", "question",
  "answer", "supporting_facts": [[title, sentence_index], …], "context": [[title, [sentences]],
  …]}``); :func:`load_musique` reads MuSiQue's JSON lines (``{"id", "question", "answer",
  "answer_aliases", "answerable", "paragraphs": [{"idx", "title", "paragraph_text",
  "is_supporting"}], "question_decomposition": [{"paragraph_support_idx", …}]}``).
  The corpus is a user JSONL file of ``{"id", "title", "text"}`` (:func:`load_corpus_jsonl`) or,
  without one, the paragraphs of the question file itself. Gold articles are the supporting
  paragraphs (HotpotQA: in order of first supporting fact; MuSiQue: in decomposition order),
  found in the corpus by exact title (MuSiQue: title and text first); questions whose gold
  articles are missing from the corpus are dropped with one warning giving the count.
"""

from __future__ import annotations

import json
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentgym.core.paths import cache_dir
from agentgym.envs.tool.search.corpus import Corpus, Document, publish, read_jsonl, write_jsonl
from agentgym.envs.tool.search.questions import Question, generate_questions
from agentgym.envs.tool.search.world import build_world

#: Bump when the generator's output changes, so old caches are not reused.
GENERATOR_VERSION = 1


@dataclass
class Dataset:
    """A corpus and its questions.

    Attributes:
        corpus: the searchable articles.
        questions: all questions (each knows its split).
        source: ``generated``, ``hotpotqa`` or ``musique``.
        meta: build facts (for the generated set: seconds per stage, sizes).
    """

    corpus: Corpus
    questions: list[Question]
    source: str
    meta: dict[str, Any] = field(default_factory=dict)


_memory: dict[tuple[Any, ...], Dataset] = {}
_memory_lock = threading.Lock()


def generated(
    n_articles: int = 20_000,
    seed: int = 0,
    n_questions: int = 10_000,
    hops: tuple[int, int] = (1, 4),
    *,
    use_cache: bool = True,
) -> Dataset:
    """The generated encyclopedia and its questions (cached on disk and in memory).

    Args:
        n_articles: number of articles (entities).
        seed: seed of the world and of the questions.
        n_questions: number of questions (one in five is a test question).
        hops: inclusive range of hop counts.
        use_cache: read and write the disk cache (False always rebuilds, in memory only).
    """
    key = (GENERATOR_VERSION, int(n_articles), int(seed), int(n_questions), tuple(hops))
    with _memory_lock:
        if use_cache and key in _memory:
            return _memory[key]
        folder = cache_dir(
            "searchqa", f"gen-v{key[0]}-n{key[1]}-s{key[2]}-q{key[3]}-h{hops[0]}{hops[1]}"
        )
        dataset = None
        if use_cache and folder.exists():
            try:
                dataset = _load_generated(folder)
            except (OSError, ValueError, KeyError) as exc:
                warnings.warn(f"rebuilding the SearchQA cache {folder}: {exc}", stacklevel=2)
        if dataset is None:
            dataset = _build_generated(n_articles, seed, n_questions, hops)
            if use_cache:
                publish(lambda tmp: _save_generated(dataset, tmp), folder)
        if use_cache:
            _memory[key] = dataset
        return dataset


def _build_generated(n_articles: int, seed: int, n_questions: int,
                     hops: tuple[int, int]) -> Dataset:
    t0 = time.perf_counter()
    world = build_world(n_articles, seed)
    t1 = time.perf_counter()
    questions = generate_questions(world, n_questions, seed, hops)
    t2 = time.perf_counter()
    documents = [Document(e.doc_id, e.name, text) for e, text in zip(world.entities,
                                                                      world.articles, strict=True)]
    corpus = Corpus(documents)
    t3 = time.perf_counter()
    meta = {
        "generator_version": GENERATOR_VERSION, "n_articles": n_articles, "seed": seed,
        "n_questions": n_questions, "hops": list(hops),
        "seconds": {"world": t1 - t0, "questions": t2 - t1, "index": t3 - t2, "total": t3 - t0},
    }
    return Dataset(corpus, questions, "generated", meta)


def _save_generated(dataset: Dataset, folder: Path) -> None:
    dataset.corpus.save(folder)
    write_jsonl(folder / "questions.jsonl", (_question_row(q) for q in dataset.questions))
    (folder / "meta.json").write_text(json.dumps(dataset.meta, indent=1))


def _load_generated(folder: Path) -> Dataset:
    meta = json.loads((folder / "meta.json").read_text())
    questions = [_question_from_row(r) for r in read_jsonl(folder / "questions.jsonl")]
    return Dataset(Corpus.load(folder), questions, "generated", {**meta, "cached": True})


def _question_row(q: Question) -> dict[str, Any]:
    return {"id": q.id, "question": q.question, "answer": q.answer, "hops": q.hops,
            "chain": [list(c) for c in q.chain], "split": q.split, "aliases": list(q.aliases)}


def _question_from_row(r: dict[str, Any]) -> Question:
    return Question(r["id"], r["question"], r["answer"], int(r["hops"]),
                    tuple((c[0], c[1]) for c in r["chain"]), r["split"], tuple(r["aliases"]))


# --- user data --------------------------------------------------------------------------------
def load_corpus_jsonl(path: str | Path) -> list[Document]:
    """Read a corpus file: one ``{"id", "title", "text"}`` JSON object per line.

    Raises:
        ValueError: a line that is not such an object, or a repeated id (the message names the
            line).
    """
    documents: list[Document] = []
    seen: set[str] = set()
    with Path(path).open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                doc = Document(str(row["id"]), str(row["title"]), str(row["text"]))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(
                    f"{path}:{number}: expected a JSON object with id, title and text ({exc})"
                ) from None
            if doc.id in seen:
                raise ValueError(f"{path}:{number}: document id {doc.id!r} appears twice")
            seen.add(doc.id)
            documents.append(doc)
    if not documents:
        raise ValueError(f"{path}: the corpus is empty")
    return documents


def _read_json_or_lines(path: str | Path) -> list[dict[str, Any]]:
    text = Path(path).read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        return json.loads(stripped)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class _TitleIndex:
    def __init__(self, documents: list[Document]) -> None:
        self.by_title: dict[str, str] = {}
        self.by_title_text: dict[tuple[str, str], str] = {}
        for d in documents:
            self.by_title.setdefault(d.title, d.id)
            self.by_title_text.setdefault((d.title, " ".join(d.text.split())), d.id)

    def find(self, title: str, text: str | None = None) -> str | None:
        if text is not None:
            hit = self.by_title_text.get((title, " ".join(text.split())))
            if hit is not None:
                return hit
        return self.by_title.get(title)


def _finish(source: str, documents: list[Document], pending: list[tuple[dict, list]],
            path: str | Path) -> Dataset:
    index = _TitleIndex(documents)
    questions: list[Question] = []
    dropped = 0
    for item, gold in pending:
        chain = []
        for title, text in gold:
            doc_id = index.find(title, text)
            if doc_id is None:
                break
            chain.append((doc_id, title))
        if len(chain) != len(gold) or not chain:
            dropped += 1
            continue
        questions.append(Question(
            id=str(item["id"]), question=str(item["question"]), answer=str(item["answer"]),
            hops=len(chain), chain=tuple(chain), split="all",
            aliases=tuple(str(a) for a in item.get("aliases", ())),
        ))
    if dropped:
        warnings.warn(f"{path}: {dropped} questions dropped: their supporting articles are not "
                      "in the corpus", stacklevel=3)
    if not questions:
        raise ValueError(f"{path}: no question has all its supporting articles in the corpus")
    return Dataset(Corpus(documents), questions, source, {"dropped": dropped})


def load_hotpotqa(path: str | Path, corpus_path: str | Path | None = None) -> Dataset:
    """Questions in the HotpotQA JSON format, over ``corpus_path`` (or the file's own context
    paragraphs when None)."""
    items = _read_json_or_lines(path)
    documents: list[Document] = []
    if corpus_path is not None:
        documents = load_corpus_jsonl(corpus_path)
    else:
        seen: set[str] = set()
        for item in items:
            for title, sentences in item.get("context", []):
                if title not in seen:
                    seen.add(title)
                    documents.append(Document(f"p{len(documents):06d}", title,
                                              "".join(sentences).strip()))
    pending = []
    for item in items:
        titles: list[str] = []
        for title, _ in item.get("supporting_facts", []):
            if title not in titles:
                titles.append(title)
        pending.append(({"id": item.get("_id", item.get("id")), "question": item["question"],
                         "answer": item["answer"]}, [(t, None) for t in titles]))
    return _finish("hotpotqa", documents, pending, path)


def load_musique(path: str | Path, corpus_path: str | Path | None = None) -> Dataset:
    """Questions in the MuSiQue JSON-lines format (unanswerable ones skipped), over
    ``corpus_path`` (or the file's own paragraphs when None)."""
    items = [i for i in _read_json_or_lines(path) if i.get("answerable", True)]
    documents: list[Document] = []
    if corpus_path is not None:
        documents = load_corpus_jsonl(corpus_path)
    else:
        seen: set[tuple[str, str]] = set()
        for item in items:
            for p in item.get("paragraphs", []):
                key = (p["title"], p["paragraph_text"])
                if key not in seen:
                    seen.add(key)
                    documents.append(Document(f"p{len(documents):06d}", p["title"],
                                              p["paragraph_text"]))
    pending = []
    for item in items:
        paragraphs = {p["idx"]: p for p in item.get("paragraphs", [])}
        order = [step.get("paragraph_support_idx") for step in
                 item.get("question_decomposition", [])]
        order = [i for i in order if i in paragraphs]
        for p in paragraphs.values():  # supporting paragraphs the decomposition does not name
            if p.get("is_supporting") and p["idx"] not in order:
                order.append(p["idx"])
        gold = [(paragraphs[i]["title"], paragraphs[i]["paragraph_text"]) for i in order]
        pending.append(({"id": item["id"], "question": item["question"], "answer": item["answer"],
                         "aliases": item.get("answer_aliases", [])}, gold))
    return _finish("musique", documents, pending, path)
