"""Sphinx configuration of the recbole-outfit documentation (MyST Markdown pages, API reference from docstrings).

Build: ``sphinx-build -W --keep-going -b html docs /tmp/recbole-outfit-docs`` (``pip install -e ".[docs]"``).
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # the checkout's package, not an installed copy

project = "recbole-outfit"
author = "recbole-outfit contributors"
extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build"]
templates_path = ["_templates"]

myst_heading_anchors = 4  # "page.md#a-heading" links resolve
myst_enable_extensions = ["colon_fence"]

autosummary_generate = True  # writes api/generated/*.rst (git-ignored) from the package's docstrings
# generated afresh on every build, so a module that was moved or removed leaves no page behind
import shutil as _shutil  # noqa: E402

_shutil.rmtree(os.path.join(ROOT, "docs", "api", "generated"), ignore_errors=True)
autosummary_imported_members = False
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "none"
# Optional dependencies imported inside functions need no mock; these are imported at module level by the page.
autodoc_mock_imports = []

html_theme = "alabaster"
html_title = "recbole-outfit"


# ---- links from the pages to repository files outside docs/ (results/README.md, results/*.md tables)
# MyST resolves a link to a .md file as a link to another page, and a file outside docs/ is no page. Such a link
# (to a file that exists) becomes a link to a copy of the file in the built site's _repo/ folder; a link to a
# file that does not exist is left to MyST, which warns (and the strict build fails).
import posixpath  # noqa: E402
import shutil  # noqa: E402

from docutils import nodes  # noqa: E402
from sphinx.transforms.post_transforms import SphinxPostTransform  # noqa: E402
from sphinx.util.nodes import NodeMatcher  # noqa: E402
from sphinx import addnodes  # noqa: E402

_REPO_FILES = set()


def _repository_file(target):
    """The repository-relative path of a MyST doc target outside docs/ that names an existing file, or None."""
    docs = os.path.join(ROOT, "docs")
    path = os.path.normpath(target)
    if not os.path.isabs(path) or os.path.commonpath([path, docs]) == docs:
        return None
    for candidate in (path, path + ".md"):
        if os.path.isfile(candidate) and os.path.commonpath([candidate, ROOT]) == ROOT:
            return os.path.relpath(candidate, ROOT).replace(os.sep, "/")
    return None


class RepositoryFileLinks(SphinxPostTransform):
    default_priority = 8  # before MyST's resolver (9)

    def run(self, **kwargs):
        for node in list(self.document.findall(NodeMatcher(addnodes.pending_xref, reftype="myst", refdomain="doc"))):
            relative = _repository_file(node["reftarget"])
            if relative is None:
                continue
            _REPO_FILES.add(relative)
            page_dir = posixpath.dirname(self.env.docname)
            uri = posixpath.relpath(posixpath.join("_repo", relative), page_dir or ".")
            if node.get("reftargetid"):
                uri += "#" + node["reftargetid"]
            reference = nodes.reference("", "", internal=False, refuri=uri)
            reference += node[0].deepcopy() if len(node) else nodes.Text(relative)
            node.replace_self(reference)


def _copy_repository_files(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    for relative in _REPO_FILES:
        destination = os.path.join(app.outdir, "_repo", relative)
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        shutil.copyfile(os.path.join(ROOT, relative), destination)


def setup(app):
    app.add_post_transform(RepositoryFileLinks)
    app.connect("build-finished", _copy_repository_files)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
