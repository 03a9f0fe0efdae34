"""Benchmarks: inference / training efficiency (``efficiency``), memory and time at scale (``scale``), the
composed-outfit search against brute force (``compose``) and the FND premise (``fnd_premise``); each a
``python -m recbole_outfit.benchmarks.<name>`` command. The device script is ``scripts/gpu.sh``."""
