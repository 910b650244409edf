"""WebShop (Yao et al., 2022, arXiv 2207.01206): shop for a product that matches an instruction.

Modules (heavy dependencies — Flask, bm25s, rapidfuzz, requests, Playwright — load only when an
environment is made or a server started):

* :mod:`.catalog` — seeded product catalog and goals (``generate_catalog``), splits;
* :mod:`.loader` — the original WebShop data files;
* :mod:`.reward` — the original score (``get_reward``);
* :mod:`.search` — BM25 search (bm25s);
* :mod:`.pages`, :mod:`.server` — the shop as a web site on 127.0.0.1 (Flask, threaded);
* :mod:`.html_text` — page text, clickables and score from HTML;
* :mod:`.env` — ``agentgym/WebShop-v0`` (text); :mod:`.browser_env` —
  ``agentgym/WebShopBrowser-v0`` (Chromium via Playwright).
"""
