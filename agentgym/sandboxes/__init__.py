"""agentgym/sandboxes"""
