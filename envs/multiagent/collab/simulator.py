"""The default collaborator of ``agentgym/Collab-v0``: a deterministic, scripted simulator.

It answers a question from the hidden specification by word overlap: the question's words are
matched (after a crude stemming) against each hidden fact's keywords and the best-matching fact
is said (ties go to the earlier fact). A question that matches nothing gets a polite refusal that
lists the *topics* one may ask about, never their content. It reveals one fact per question and
never shows code.

:class:`ScriptedCollaborator` is the same simulator as a :class:`~agentgym.core.policy.Policy`
for the collaborator seat; any other policy (a model, an OpenAI-compatible endpoint through
:class:`~agentgym.core.policies.OpenAIChatPolicy`) can take the seat instead — its observation
holds the hidden specification and the coder's latest question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agentgym.core.policy import Generation, Request
from agentgym.envs.multiagent.collab.tasks import Task

_WORD = re.compile(r"[a-z0-9_]+")
_SUFFIXES = ("ing", "ed", "es", "s")


def stem(word: str) -> str:
    """A crude stem, so that ``named``/``names``/``naming``/``name`` all match: one suffix of
    ``ing``/``ed``/``es``/``s`` is removed, then a final ``e`` (keeping at least 3 letters)."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def words_of(text: str) -> set[str]:
    """The stemmed words of ``text``."""
    return {stem(w) for w in _WORD.findall(text.lower())}


def answer(task: Task, question: str) -> str:
    """The scripted collaborator's answer to ``question`` about ``task``."""
    words = words_of(question)
    best, best_score = None, 0
    for fact in task.facts:
        score = len(words & {stem(k) for k in fact.keywords})
        if score > best_score:
            best, best_score = fact, score
    if best is None:
        topics = ", ".join(f.topic for f in task.facts)
        return (
            "I'm not sure what you are asking. Ask me about one detail of the function at a "
            f"time, for example about: {topics}."
        )
    return best.sentence


class ScriptedCollaborator:
    """The scripted simulator as a policy for the ``collaborator_0`` seat.

    It reads the task and the pending question from the live environment (``request.env``),
    like the other oracle policies; an LLM collaborator reads the same from its messages.
    """

    name = "scripted-collaborator"

    def __call__(self, requests: Sequence[Request]) -> list[Generation]:
        out = []
        for request in requests:
            env = request.env
            expert = getattr(getattr(env, "unwrapped", env), "expert_action", None)
            if expert is None:
                out.append(Generation(text="", info={"error": "ScriptedCollaborator needs the "
                                                     "live Collab environment (request.env)"}))
                continue
            out.append(Generation(text=str(expert())))
        return out
