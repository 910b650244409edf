"""Multi-hop questions composed from the world's relation graph, with unique answers.

A question names one entity (the *anchor*) and follows 1–4 functional relations from it; the last
step may read an attribute (a year, an occupation, an industry)::

    book --publisher--> company --founder--> person --born_in--> city
    "In which city was the founder of the publisher of "The Silent Harbor" born?"

Every relation is functional and every name is unique, so the answer is unique by construction.
The *gold* articles are those of the anchor and of each bridge entity (the subjects of the hops):
the fact needed at hop ``i`` is written in the article of the ``i``-th subject. A chain never
visits an entity twice.

Questions are drawn from ``random.Random(seed)``; question ``i`` is in the test split when
``i % 5 == 0`` (one in five), otherwise in train.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from agentgym.envs.tool.search.world import ATTRIBUTES, World

#: (kind, relation) -> (noun phrase template, question template). ``{x}`` is the subject.
RELATION_TEXT: dict[tuple[str, str], tuple[str, str]] = {
    ("person", "born_in"): ("the birthplace of {x}", "In which city was {x} born?"),
    ("person", "studied_at"): ("the university that {x} attended",
                               "Which university did {x} attend?"),
    ("person", "works_for"): ("the employer of {x}", "Which company does {x} work for?"),
    ("person", "spouse"): ("the spouse of {x}", "Who is {x} married to?"),
    ("city", "country"): ("the country where {x} lies", "In which country is the city {x}?"),
    ("city", "mayor"): ("the mayor of {x}", "Who is the mayor of {x}?"),
    ("country", "capital"): ("the capital of {x}", "What is the capital of {x}?"),
    ("company", "founder"): ("the founder of {x}", "Who founded the company {x}?"),
    ("company", "headquarters"): ("the city where {x} is headquartered",
                                  "In which city is {x} headquartered?"),
    ("university", "located_in"): ("the city where {x} is located",
                                   "In which city is {x} located?"),
    ("university", "founder"): ("the founder of {x}", "Who founded {x}?"),
    ("book", "author"): ("the author of {x}", "Who wrote {x}?"),
    ("book", "publisher"): ("the publisher of {x}", "Which company published {x}?"),
    ("film", "director"): ("the director of {x}", "Who directed {x}?"),
    ("film", "studio"): ("the studio that produced {x}", "Which studio produced {x}?"),
    ("album", "artist"): ("the artist who recorded {x}", "Who recorded {x}?"),
    ("album", "label"): ("the label that released {x}", "Which label released {x}?"),
}
#: (kind, attribute) -> question template.
ATTRIBUTE_TEXT: dict[tuple[str, str], str] = {
    ("person", "birth_year"): "In which year was {x} born?",
    ("person", "occupation"): "What is the occupation of {x}?",
    ("company", "founded_year"): "In which year was {x} founded?",
    ("company", "industry"): "In which industry does {x} operate?",
    ("university", "founded_year"): "In which year was {x} founded?",
    ("book", "year"): "In which year was {x} published?",
    ("film", "year"): "In which year was {x} released?",
    ("album", "year"): "In which year was {x} released?",
}
#: Question ``i`` is a test question when ``i % TEST_EVERY == 0``.
TEST_EVERY = 5
_WORKS = ("book", "film", "album")


@dataclass(frozen=True)
class Question:
    """One question.

    Attributes:
        id: ``q000042``.
        question: the text.
        answer: the ground truth (an entity name or an attribute value).
        hops: number of relation steps (1–4).
        chain: ``(doc_id, name)`` of the gold articles in hop order (anchor first).
        split: ``train`` or ``test``.
        aliases: other accepted answers (loaded datasets; empty for generated ones).
    """

    id: str
    question: str
    answer: str
    hops: int
    chain: tuple[tuple[str, str], ...]
    split: str
    aliases: tuple[str, ...] = ()

    @property
    def gold(self) -> frozenset[str]:
        return frozenset(doc for doc, _ in self.chain)


def _mention(world: World, index: int) -> str:
    entity = world.entities[index]
    return f'"{entity.name}"' if entity.kind in _WORKS else entity.name


def generate_questions(
    world: World, n: int = 10_000, seed: int = 0, hops: tuple[int, int] = (1, 4)
) -> list[Question]:
    """``n`` distinct questions with ``hops[0]..hops[1]`` relation steps, hop counts drawn
    uniformly."""
    lo, hi = hops
    if not 1 <= lo <= hi <= 4:
        raise ValueError(f"hops must satisfy 1 <= lo <= hi <= 4, got {hops}")
    rng = random.Random(f"questions-{seed}")
    entities = world.entities
    seen: set[str] = set()
    out: list[Question] = []
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 50 * n:
            raise RuntimeError(f"could not compose {n} distinct questions from this world")
        k = rng.randint(lo, hi)
        current = rng.randrange(len(entities))
        chain = [current]
        phrase = _mention(world, current)
        question = None
        for step in range(k):
            kind = entities[current].kind
            last = step == k - 1
            attrs = [a for a in ATTRIBUTES[kind] if (kind, a) in ATTRIBUTE_TEXT]
            if last and attrs and rng.random() < 0.3:
                attr = rng.choice(attrs)
                question = ATTRIBUTE_TEXT[(kind, attr)].format(x=phrase)
                answer = entities[current].attrs[attr]
                break
            options = [r for r, target in entities[current].rel.items()
                       if entities[current].rel[r] not in chain and (kind, r) in RELATION_TEXT]
            if not options:
                break
            relation = rng.choice(options)
            noun, ask = RELATION_TEXT[(kind, relation)]
            nxt = entities[current].rel[relation]
            if last:
                question = ask.format(x=phrase)
                answer = entities[nxt].name
                break
            phrase = noun.format(x=phrase)
            chain.append(nxt)
            current = nxt
        if question is None or question in seen:
            continue
        seen.add(question)
        index = len(out)
        out.append(Question(
            id=f"q{index:06d}",
            question=question,
            answer=answer,
            hops=k,
            chain=tuple((entities[i].doc_id, entities[i].name) for i in chain),
            split="test" if index % TEST_EVERY == 0 else "train",
        ))
    return out
