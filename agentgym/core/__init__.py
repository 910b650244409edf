"""The core of agentgym: the environment contract, registry, wrappers, checker, trajectory
data model and rollout. Nothing here imports environments, credit methods or trainers."""
