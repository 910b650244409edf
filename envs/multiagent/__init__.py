"""Multi-agent environments: PettingZoo ``AECEnv``/``ParallelEnv`` with text per agent.

Importing this package only records the registrations (family ``multiagent``); an environment's
module — and PettingZoo, rlcard, pygame or docker — is imported when the environment is made.
``agentgym.make(id)`` returns the PettingZoo environment itself (no Gymnasium wrappers); the
registered ``max_episode_steps`` becomes its ``max_turns``, counted over every agent's steps.
"""

from agentgym.core.registration import register

_SMALL_CHECK = {"n_tasks": 3}

register(
    id="agentgym/TicTacToe-v0",
    entry_point="agentgym.envs.multiagent.boards:TicTacToeEnv",
    max_episode_steps=30,
    family="multiagent",
    description="Tic-tac-toe for two text agents (pettingzoo.classic); minimax expert.",
    checker_kwargs=_SMALL_CHECK,
)
register(
    id="agentgym/ConnectFour-v0",
    entry_point="agentgym.envs.multiagent.boards:ConnectFourEnv",
    max_episode_steps=100,
    family="multiagent",
    description="Connect four for two text agents (pettingzoo.classic); alpha-beta expert.",
    checker_kwargs=_SMALL_CHECK,
)
register(
    id="agentgym/LeducHoldem-v0",
    entry_point="agentgym.envs.multiagent.leduc:LeducHoldemEnv",
    max_episode_steps=30,
    family="multiagent",
    description="One hand of Leduc hold'em in words (pettingzoo.classic/rlcard); CFR expert.",
    checker_kwargs=_SMALL_CHECK,
)
register(
    id="agentgym/RockPaperScissors-v0",
    entry_point="agentgym.envs.multiagent.rps:RockPaperScissorsEnv",
    max_episode_steps=30,
    kwargs={"rounds": 5},
    family="multiagent",
    description="Rock-paper-scissors, simultaneous moves (ParallelEnv, pettingzoo.classic).",
    checker_kwargs=_SMALL_CHECK,
)
register(
    id="agentgym/Negotiation-v0",
    entry_point="agentgym.envs.multiagent.negotiation:NegotiationEnv",
    max_episode_steps=30,
    kwargs={"max_rounds": 10},
    family="multiagent",
    description="Split items with private values by talking and proposing; Nash-bargaining expert.",
    checker_kwargs=_SMALL_CHECK,
)
register(
    id="agentgym/Collab-v0",
    entry_point="agentgym.envs.multiagent.collab.env:CollabEnv",
    max_episode_steps=24,
    kwargs={"split": "train", "max_questions": 5},
    family="multiagent",
    description="Write a function whose hidden spec only a collaborator knows; docker-graded.",
    checker_kwargs={"n_tasks": 2},
)
