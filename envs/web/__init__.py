"""Web environments: WebShop over HTTP, in text and in a real browser (``agentgym.envs.web``)."""
