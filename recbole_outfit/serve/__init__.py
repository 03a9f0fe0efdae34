"""A small web app over a trained model: ``python -m recbole_outfit.serve --checkpoint PATH [--port 8000]``.
FastAPI, server-rendered Jinja2 templates, uvicorn (``pip install "recbole-outfit[serve]"``); see ``app``."""
