"""Tool-use environments: BFCL multi-turn function calling and multi-hop search QA.

Ids (registered here, made lazily):

* ``agentgym/BFCL-base-v0``, ``agentgym/BFCL-miss_func-v0``, ``agentgym/BFCL-miss_param-v0``,
  ``agentgym/BFCL-long_context-v0`` — one per BFCL v4 multi-turn category (the category name as
  BFCL spells it), and ``agentgym/BFCL-v0`` with all four. Needs PyPI ``bfcl-eval``.
* ``agentgym/SearchQA-v0`` — multi-hop questions over a generated encyclopedia with BM25 search.
"""

from agentgym.core.registration import register

_BFCL_DESCRIPTIONS = {
    "base": "BFCL v4 multi-turn function calling (base): stateful APIs, graded by BFCL's checker.",
    "miss_func": "BFCL v4 multi-turn, missing functions: a needed one arrives in a later turn.",
    "miss_param": "BFCL v4 multi-turn, missing parameters: ask the user for what is missing.",
    "long_context": "BFCL v4 multi-turn with long tool outputs and large simulator states.",
}

for _category, _description in _BFCL_DESCRIPTIONS.items():
    register(
        id=f"agentgym/BFCL-{_category}-v0",
        entry_point="agentgym.envs.tool.bfcl.env:BFCLEnv",
        max_episode_steps=50,
        kwargs={"category": _category},
        family="tool",
        description=_description,
    )
register(
    id="agentgym/BFCL-v0",
    entry_point="agentgym.envs.tool.bfcl.env:BFCLEnv",
    max_episode_steps=50,
    kwargs={"category": "all"},
    family="tool",
    description="BFCL v4 multi-turn function calling, all four categories (base, miss_func, "
    "miss_param, long_context).",
)
register(
    id="agentgym/SearchQA-v0",
    entry_point="agentgym.envs.tool.search.env:SearchQAEnv",
    max_episode_steps=16,
    family="tool",
    description="Multi-hop questions over a generated 20k-article encyclopedia; BM25 search, "
    "open, answer (exact match).",
)
