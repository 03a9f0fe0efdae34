"""recbole-outfit: personalized outfit recommendation (FND-CL) as a RecBole 1.2.1 plugin.

Importing the package itself loads nothing heavy, so that the command line can check its arguments before
torch and RecBole load. ``recbole_outfit.config`` (which every run, stage and checkpoint goes through)
registers the plugin's metrics with RecBole; the RecBole fixes of ``compat.py`` live in the plugin's own
classes.
"""

__version__ = "0.1.0"
