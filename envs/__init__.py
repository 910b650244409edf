"""Built-in environments, registered by id with lazy entry points.

Importing this package only records the registrations; an environment's module (and its heavy
dependencies) is imported when the environment is first made.
"""

from agentgym.core.registration import register

# --- text games (envs/text) ------------------------------------------------------------------
register(
    id="agentgym/Sokoban-v0",
    entry_point="agentgym.envs.text.sokoban:SokobanEnv",
    max_episode_steps=30,
    kwargs={"dim_room": (6, 6), "num_boxes": 1},
    family="text",
    description="Push boxes onto goals in a procedurally generated grid (gym-sokoban rewards).",
)
register(
    id="agentgym/FrozenLake-v0",
    entry_point="agentgym.envs.text.frozen_lake:FrozenLakeEnv",
    max_episode_steps=30,
    kwargs={"map_size": 4, "is_slippery": False},
    family="text",
    description="Cross a frozen lake to the goal without falling into a hole (gymnasium toy_text).",
)
register(
    id="agentgym/Taxi-v0",
    entry_point="agentgym.envs.text.taxi:TaxiEnv",
    max_episode_steps=50,
    family="text",
    description="Pick up a passenger and drop them at their destination (gymnasium Taxi-v4).",
)
register(
    id="agentgym/TextWorld-v0",
    entry_point="agentgym.envs.text.textworld:TextWorldEnv",
    max_episode_steps=50,
    family="text",
    description="Household text adventures generated offline with TextWorld (ALFWorld-style).",
    # A pool of 3 games keeps the check to 3 generated games (gymnasium's checker uses 5 seeds).
    checker_kwargs={"n_tasks": 2, "make_kwargs": {"num_tasks": 3}},
)

# --- web (envs/web) ---------------------------------------------------------------------------
register(
    id="agentgym/WebShop-v0",
    entry_point="agentgym.envs.web.webshop.env:WebShopEnv",
    max_episode_steps=15,
    family="web",
    description="Shop for a product matching an instruction on a web shop served over HTTP (text).",
    checker_kwargs={"n_tasks": 5},
)
register(
    id="agentgym/WebShopBrowser-v0",
    entry_point="agentgym.envs.web.webshop.browser_env:WebShopBrowserEnv",
    max_episode_steps=15,
    family="web",
    description="WebShop driven through a real Chromium browser (Playwright): clicks and typing.",
    checker_kwargs={"n_tasks": 2},
)

# --- software engineering (envs/swe) ----------------------------------------------------------
register(
    id="agentgym/SWE-v0",
    entry_point="agentgym.envs.swe.env:SWEEnv",
    max_episode_steps=30,
    family="swe",
    description="Fix a bug in a Python repository inside a docker sandbox, graded by its tests.",
    checker_kwargs={"n_tasks": 2},
)

# --- GUI (envs/gui: MiniWoB++ in Chromium, Tk apps under Xvfb; registered there) -------------
import agentgym.envs.gui  # noqa: E402

# --- several agents (envs/multiagent: PettingZoo AEC/Parallel envs, registered there) ----------
import agentgym.envs.multiagent  # noqa: E402,F401

# --- tool use (envs/tool): BFCL multi-turn function calling, SearchQA -------------------------
from agentgym.envs import tool  # noqa: E402, F401  (its __init__ registers the family)
