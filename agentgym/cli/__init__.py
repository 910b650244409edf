"""agentgym/cli"""
