"""The documentation: every relative link resolves, every configuration key it names exists, the site builds.

Pages: README.md, docs/*.md and results/README.md. Keys are taken from three places, by one rule each:

* a command line of ``run_recbole_outfit.py``, ``run_hyper_outfit.py`` or ``recbole-outfit`` in a code block:
  every ``--key=`` and every key of a ``--model=Model:key=value;key=value`` row;
* an inline code span that is a flag, `` `--key=value` `` or `` `--key=` ``;
* a ``yaml`` code block: every top-level ``key:``.

Each must be a configuration key (a top-level key of a yaml file under ``properties/``, or of RecBole's own
``properties/``) or, for flags, an option some entry point's ``argparse`` parser declares.
"""

import os
import re
import subprocess
import sys
from glob import glob

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = sorted([os.path.join(ROOT, "README.md"), os.path.join(ROOT, "results", "README.md")]
               + glob(os.path.join(ROOT, "docs", "*.md")))
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w-]*)")
COMMAND = re.compile(r"(run_recbole_outfit\.py|run_hyper_outfit\.py|recbole-outfit)\b")
FLAG = re.compile(r"--([A-Za-z_][A-Za-z0-9_]*)=")
YAML_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*:")
# names in the docs' flags that are not keys on purpose
NOT_KEYS = {"key": "the placeholder of --key=value", "learnin_rate": "the misspelt key the unknown-key example shows"}


def split_page(text):
    """(prose lines, [(language, code lines)]) of a Markdown page: fenced blocks apart from the rest."""
    prose, blocks, fence, language, code = [], [], None, "", []
    for line in text.splitlines():
        match = FENCE.match(line)
        if fence is None and match:
            fence, language, code = match.group(2), match.group(3).lower(), []
        elif fence is not None and line.strip().startswith(fence) and line.strip().strip(fence[0]) == "":
            blocks.append((language, code))
            fence = None
        elif fence is not None:
            code.append(line)
        else:
            prose.append(line)
    return prose, blocks


def github_slug(heading):
    """The anchor GitHub (and MyST, with ``myst_heading_anchors``) gives a heading."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    prose, _ = split_page(open(path, encoding="utf-8").read())
    return {github_slug(line.lstrip("#")) for line in prose if re.match(r"^#{1,6} ", line)}


def relative_links(path):
    prose, _ = split_page(open(path, encoding="utf-8").read())
    text = re.sub(r"`[^`]*`", "", "\n".join(prose))  # code spans are not links
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("//"):
            continue  # https:, mailto: ...
        yield target


def broken_links(path):
    problems = []
    for target in relative_links(path):
        file_part, _, anchor = target.partition("#")
        resolved = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
        where = f"{os.path.relpath(path, ROOT)}: {target}"
        if not os.path.exists(resolved):
            problems.append(f"{where} (no such file)")
        elif anchor and resolved.endswith(".md") and anchor not in anchors(resolved):
            problems.append(f"{where} (no heading with that anchor)")
    return problems


def yaml_keys(folder):
    keys = set()
    for file in glob(os.path.join(folder, "**", "*.yaml"), recursive=True):
        for line in open(file, encoding="utf-8"):
            match = YAML_KEY.match(line)
            if match:
                keys.add(match.group(1))
    return keys


def config_keys():
    import recbole

    return yaml_keys(os.path.join(ROOT, "properties")) | yaml_keys(os.path.join(os.path.dirname(recbole.__file__),
                                                                              "properties"))


def parser_flags():
    flags = set()
    for file in glob(os.path.join(ROOT, "**", "*.py"), recursive=True):
        if "/tests/" in file or "/.venv/" in file:
            continue
        flags |= set(re.findall(r"add_argument\(\s*\"--([A-Za-z_][A-Za-z0-9_]*)\"", open(file, encoding="utf-8").read()))
    return flags


def named_keys(path):
    """(key, what it came from) for every configuration key or flag the page names (the module docstring's rule)."""
    prose, blocks = split_page(open(path, encoding="utf-8").read())
    named = []
    for span in re.findall(r"`([^`]+)`", "\n".join(prose)):
        match = re.fullmatch(r"--([A-Za-z_][A-Za-z0-9_]*)=\S*", span.strip())
        if match:
            named.append((match.group(1), f"`{span}`", "flag"))
    for language, code in blocks:
        if language == "yaml":
            named += [(m.group(1), "yaml block", "key") for m in map(YAML_KEY.match, code) if m]
            continue
        for line in code:
            if not COMMAND.search(line):
                continue
            named += [(key, line.strip()[:80], "flag") for key in FLAG.findall(line)]
            for spec in re.findall(r"--model=\"?([^\s\"]+)", line):
                for row in spec.split(","):
                    _, _, settings = row.partition(":")
                    named += [(setting.split("=")[0], row, "key") for setting in settings.split(";")
                              if "=" in setting and not setting.startswith("$")]
    return named


def test_the_key_rule_sees_flags_yaml_and_model_rows(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("Use `--fnd_alpha=2.5` or `fnd_scale`.\n\n```yaml\nepochs: 3\n  nested: 1\n```\n\n```bash\n"
                    "python run_recbole_outfit.py \"--model=NPair,FND:teacher=oracle;cl_weight=0\" --seeds=2\n"
                    "python -m other.tool --steps=3\n```\n")
    assert sorted(key for key, _, _ in named_keys(str(page))) == [
        "cl_weight", "epochs", "fnd_alpha", "model", "seeds", "teacher"]


def test_the_link_rule_finds_a_missing_file_and_a_missing_anchor(tmp_path):
    (tmp_path / "other.md").write_text("# A heading's title\n")
    page = tmp_path / "page.md"
    page.write_text("[ok](other.md#a-headings-title) [gone](missing.md) [bad](other.md#nope) "
                    "[web](https://example.org/x.md) `[code](nothing.md)`\n")
    assert [problem.split(": ", 1)[1] for problem in broken_links(str(page))] == [
        "missing.md (no such file)", "other.md#nope (no heading with that anchor)"]


def test_every_relative_link_resolves():
    problems = [problem for page in PAGES for problem in broken_links(page)]
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_every_key_the_docs_name_exists():
    keys, flags = config_keys(), parser_flags()
    unknown = [f"{os.path.relpath(page, ROOT)}: {key} (in {source})" for page in PAGES
               for key, source, kind in named_keys(page)
               if key not in keys and key not in NOT_KEYS and not (kind == "flag" and key in flags)]
    assert not unknown, "keys the documentation names that no properties/ yaml or command line defines:\n" + \
        "\n".join(unknown)


def test_readme_is_a_short_door_with_the_test_command():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    assert len(text.splitlines()) <= 200
    assert "pytest -q tests" in text  # the command .ci/run runs
    assert "pytest -q tests" in open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8").read()


@pytest.mark.slow
def test_the_docs_build_in_strict_mode(tmp_path):
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                             "-d", str(tmp_path / "doctrees"), os.path.join(ROOT, "docs"), str(tmp_path / "html")],
                            capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    assert (tmp_path / "html" / "api.html").is_file()
    assert (tmp_path / "html" / "_repo" / "results" / "README.md").is_file()  # links to repository files work
