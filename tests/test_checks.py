"""The checks before any work: one check per option, key classes declared once, the command line as a dict, a
command line that answers before torch and RecBole load, and messages that name their true source."""

import ast
import glob
import os
import re
import subprocess
import sys
import textwrap

import pytest

from conftest import tiny_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(REPO, "recbole_outfit")


def run_command(*args, timeout=300):
    """``python ARGS`` in a fresh process with this checkout first on the path: (status, stdout, stderr)."""
    env = {**os.environ, "PYTHONPATH": REPO, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    return done.returncode, done.stdout, done.stderr


def error_line(stderr):
    assert "Traceback" not in stderr, stderr
    line = stderr.strip().splitlines()[-1]
    assert line.startswith("error: "), stderr
    return line


# ============================================================================ A. one check per option


def test_an_option_matches_in_any_case_and_comes_back_canonical():
    from recbole_outfit.errors import ConfigError
    from recbole_outfit.options import check_augmentation_pair, choose

    assert choose("backbone", "xs") == "XS" and choose("backbone", "LARGE") == "large"
    assert choose("learner", "SGD") == "sgd" and choose("teacher", None) == "trained"
    assert check_augmentation_pair(["Erase", "REPLACE"]) == ["erase", "replace"]
    with pytest.raises(ConfigError, match="backbone must be one of large, M, S, XS, got 'XXL'"):
        choose("backbone", "XXL")


def test_every_later_check_accepts_what_validation_accepts(workspace):
    """``--backbone=xs`` passes the check before work and is written back as ``XS``, the spelling the item
    encoder, the stages and the fingerprint see; the item encoder's own check takes any case too."""
    from recbole_outfit.config import Config
    from recbole_outfit.model.layers import build_backbone
    from recbole_outfit.pipeline.keys import fingerprint

    data = {"data_path": str(workspace / "atomic"), **tiny_config(workspace, workspace)}
    lower = Config("FNDCL", "synthetic630", config_dict=data,
                   command_line={"backbone": "xs", "negative_pool": "OWN", "cl_augmentations": "['Erase','erase']"})
    assert (lower["backbone"], lower["negative_pool"], lower["cl_augmentations"]) == ("XS", "own", ["erase", "erase"])
    upper = Config("FNDCL", "synthetic630", config_dict=data,
                   command_line={"backbone": "XS", "negative_pool": "own", "cl_augmentations": "['erase','erase']"})
    assert fingerprint(lower) == fingerprint(upper)  # the same run: its stages and finished runs are shared
    shapes = lambda size: [tuple(p.shape) for p in build_backbone(size, 8).parameters()]  # noqa: E731
    assert shapes("xs") == shapes("XS") != shapes("large")  # raised "unknown backbone 'xs'" before


def test_the_option_lists_live_in_one_place():
    """No module but ``options.py`` spells out an option list (the copies used to disagree on case)."""
    lists = [r'\("own", "batch"', r'\("paper", "normalized"\)', r'\("trained", "oracle"\)', r'\("u", "g"\)',
             r'\("gap", "classifier"\)', r'\("identity", "erase", "replace"\)', r'"sgd", "adam"']
    found = []
    for path in glob.glob(os.path.join(PACKAGE, "**", "*.py"), recursive=True):
        if path.endswith(os.path.join("recbole_outfit", "options.py")):
            continue
        text = open(path, encoding="utf-8").read()
        found += [(os.path.relpath(path, REPO), p) for p in lists if re.search(p, text)]
    assert not found, found


@pytest.mark.slow
def test_a_lower_case_backbone_trains_the_student_after_its_teacher(workspace, run_dir):
    """``--model=FNDCL --backbone=xs``: the teacher stage trains, then the student builds its XS encoder and
    trains too (it used to fail in build_backbone after the whole teacher stage)."""
    from recbole_outfit.cli import main

    settings = tiny_config(workspace, run_dir, cl_weight=0.0, results_json=str(run_dir / "fndcl.json"))
    argv = ["--model=FNDCL", "--dataset=synthetic630", "--backbone=xs", *(f"--{k}={v}" for k, v in settings.items())]
    assert main(argv) == 0
    assert os.path.isfile(run_dir / "fndcl.json")


# ============================================================================ B. key classes, declared once


def _yaml_keys():
    from recbole_outfit.settings import plugin_yaml_files

    keys = {}
    for path in plugin_yaml_files():
        for number, line in enumerate(open(path, encoding="utf-8"), 1):
            match = re.match(r"^([A-Za-z_]\w*)\s*:", line)
            if match:
                keys.setdefault(match.group(1), []).append((path, number, line))
    return keys


def declaration_problems():
    """Keys of the plugin's yaml files with no class, with a class declared twice, or an unknown class."""
    from recbole_outfit.settings import KEY_CLASSES, parse_doc

    problems = []
    for key, places in _yaml_keys().items():
        declared = []
        for path, number, line in places:
            match = re.search(r"#\s*\(([^)]*)\)", line)
            parsed = parse_doc(match.group(1)) if match else None
            if parsed and parsed[1]:
                declared.append((path, number, parsed[1]))
        where = f"{os.path.relpath(places[0][0], REPO)}, line {places[0][1]}"
        if not declared:
            problems.append(f"{key} ({where}) has no class: write '# (type, class ...) meaning'")
        elif len(declared) > 1:
            problems.append(f"{key}'s class is declared {len(declared)} times: " + ", ".join(
                f"{os.path.relpath(p, REPO)}, line {n}" for p, n, _ in declared))
        for _, _, classes in declared:
            problems += [f"{key}: unknown class {c!r}" for c in classes if c not in KEY_CLASSES]
        if declared and "learn" in declared[0][2] and {"run", "result"} & set(declared[0][2]):
            problems.append(f"{key} is both learn (in fingerprints) and run or result (left out of them)")
    return problems


def test_every_yaml_key_has_one_class():
    assert not declaration_problems(), "\n".join(declaration_problems())


def test_a_key_without_a_class_is_found(tmp_path, monkeypatch):
    """The check above fails for a planted key documented without a class."""
    from recbole_outfit import settings

    folder = tmp_path / "properties"
    (folder / "model").mkdir(parents=True)
    (folder / "dataset").mkdir()
    (folder / "overall.yaml").write_text("epochs: 30   # (int, learn) Epochs.\nnew_key: 1   # (int) No class.\n")
    (folder / "outfit.yaml").write_text("")
    (folder / "runtime.yaml").write_text("")
    (folder / "model" / "X.yaml").write_text("epochs: 3   # (int, run) Declared again.\n")
    monkeypatch.setattr(settings, "properties_dir", lambda: str(folder))
    problems = declaration_problems()
    assert any(p.startswith("new_key (") and "has no class" in p for p in problems), problems
    assert any(p.startswith("epochs's class is declared 2 times") for p in problems), problems


def test_the_stages_read_the_classes_from_the_yaml_files():
    """A key's class in its yaml comment is what pipeline/keys.py and the dataset cache use (no hand-kept list)."""
    from recbole_outfit.data import dataset_cache
    from recbole_outfit.experiments import compare
    from recbole_outfit.pipeline import keys

    assert "backbone" not in keys.SHARED_KEYS  # the teacher keeps its own AlexNet-large (Teacher.yaml)
    assert {"seed", "raw_path", "backbone_weights", "image_store_place"} <= set(keys.SHARED_KEYS)
    assert set(keys.DATASET_KEYS) <= set(keys.SHARED_KEYS) and "synthetic_seed" in keys.DATASET_KEYS
    assert set(keys.RESULT_ONLY_KEYS) >= {"test_hard", "cold_dataset", "cold_shots", "cold_repeats", "cold_delta",
                                          "cold_tau", "lpae_cold_start"}
    assert {"gpu_id", "eval_batch_size", "results_json", "seeds"} <= keys.RUN_ONLY_KEYS
    assert not {"epochs", "learning_rate", "seed", "backbone"} & keys.RUN_ONLY_KEYS
    assert {"checkpoint", "seed", "cold_shots"} <= set(keys.EVALUATION_KEYS)
    assert {"fast_loader", "dataset", "USER_ID_FIELD"} <= set(dataset_cache.SETTINGS)
    assert set(compare.DISTILLATION_SETTINGS) == {"fnd_alpha", "cl_weight", "cl_augmentations"}
    for module in (keys, dataset_cache, compare):  # read from the yaml files, not written out in the module
        text = open(module.__file__, encoding="utf-8").read()
        assert not re.search(r'_KEYS = \(\s*"|SETTINGS = \(\s*"', text), module.__file__


# ============================================================================ C. the command line as a dict


def test_main_honours_its_argv_and_reads_no_sys_argv(workspace, run_dir, monkeypatch):
    """``main(["--epochs=1", ...])`` runs with epochs 1 whatever ``sys.argv`` holds."""
    from recbole_outfit import quick_start
    from recbole_outfit.cli import main
    from recbole_outfit.config import Config
    from recbole_outfit.pipeline import finished_runs

    seen = []

    def recorded_run(model, dataset, config_file_list=None, config_dict=None, command_line=None, **kwargs):
        seen.append(Config(model, dataset, config_file_list=config_file_list, config_dict=config_dict,
                           command_line=command_line))
        return {"test_result": {}}

    monkeypatch.setattr(quick_start, "run_recbole_outfit", recorded_run)
    monkeypatch.setattr(finished_runs, "write_json_atomic", lambda path, result: None)
    monkeypatch.setattr(sys, "argv", ["run_recbole_outfit.py", "--epochs=7", "--learning_rate=0.5"])
    settings = {k: v for k, v in tiny_config(workspace, run_dir).items() if k != "epochs"}
    assert main(["--model=NPair", "--dataset=synthetic630", "--epochs=1",
                 *(f"--{k}={v}" for k, v in settings.items())]) == 0
    assert seen[0]["epochs"] == 1 and seen[0]["learning_rate"] != 0.5
    assert sys.argv == ["run_recbole_outfit.py", "--epochs=7", "--learning_rate=0.5"]


def test_nothing_in_the_package_assigns_sys_argv():
    assigned = []
    for path in glob.glob(os.path.join(PACKAGE, "**", "*.py"), recursive=True):
        tree = ast.parse(open(path, encoding="utf-8").read(), path)
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr == "argv" and getattr(target.value, "id", "") == "sys":
                    assigned.append(f"{os.path.relpath(path, REPO)}:{node.lineno}")
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "setattr" and len(node.args) >= 2 \
                    and isinstance(node.args[1], ast.Constant) and node.args[1].value == "argv":
                assigned.append(f"{os.path.relpath(path, REPO)}:{node.lineno}")
    assert not assigned, assigned


def test_config_refuses_to_read_sys_argv():
    from recbole_outfit.config import Config

    with pytest.raises(TypeError, match="reads no sys.argv"):
        Config("NPair", "synthetic630", command_line=True)


# ============================================================================ D. a command line that answers at once


WITHOUT_HEAVY_IMPORTS = """
import runpy, sys
sys.argv = {argv!r}
try:
    runpy.{runner}
except SystemExit as stop:
    status = stop.code
else:
    status = 0
heavy = sorted(m for m in ("torch", "recbole", "hyperopt", "fastapi", "matplotlib") if m in sys.modules)
print("STATUS", status, "HEAVY", ",".join(heavy) or "none")
"""


@pytest.mark.parametrize("script, args, status", [
    ("run_recbole_outfit.py", ["--help"], 0),
    ("run_recbole_outfit.py", ["--epochs=abc"], 2),
    ("run_recbole_outfit.py", ["--lerning_rate=0.1"], 2),
    ("run_recbole_outfit.py", ["--backbone=XXL"], 2),
    ("run_recbole_outfit.py", ["--seeds=0"], 2),
    ("run_recbole_outfit.py", ["--model=NPair,FNDC"], 2),
    ("run_hyper_outfit.py", ["--help"], 0),
    ("run_hyper_outfit.py", ["--algo=random", "--max_evals=0"], 2),
    ("run_hyper_outfit.py", ["--model=FND", "--params_file=nosuch.hyper"], 2),
    ("-m recbole_outfit.recommend", ["--help"], 0),
    ("-m recbole_outfit.serve", ["--help"], 0),
    ("-m recbole_outfit.plots", ["--help"], 0),
    ("-m recbole_outfit.reproduce", ["--help"], 0),
    ("-m recbole_outfit.reproduce", ["nosuch"], 2),
    ("-m recbole_outfit.reproduce", ["fig6", "--seeds=0"], 2),
])
def test_help_and_argument_errors_answer_before_torch_and_recbole_load(script, args, status):
    if script.startswith("-m "):
        runner = f"run_module({script[3:]!r}, run_name='__main__', alter_sys=True)"
        argv = [script[3:], *args]
    else:
        runner = f"run_path({os.path.join(REPO, script)!r}, run_name='__main__')"
        argv = [script, *args]
    code, out, err = run_command("-c", WITHOUT_HEAVY_IMPORTS.format(argv=argv, runner=runner))
    assert code == 0, err
    assert f"STATUS {status} HEAVY none" in out, (out, err)
    if status == 2:
        error_line(err)


@pytest.mark.parametrize("text", ["--gpu_id=0", "--gpu_id=0,1", "--gpu_id=", "--learning_rate=1e-3", "--seed=7",
                                  "--cold_shots=[1,5]", "--backbone=xs", "--teacher_config={'epochs': 2}",
                                  "--cl_augmentations=['erase','replace']", "--show_progress=false", "--topk=10"])
def test_the_early_check_accepts_what_recbole_accepts(text):
    """The check before the imports refuses nothing the full Config accepts (RecBole normalises gpu_id, topk)."""
    from recbole_outfit.validation import check_command_line, parse_overrides

    check_command_line(parse_overrides([text]))


def test_the_early_model_check_knows_every_model():
    """The model-name check before the imports (yaml files and RecBole's module files, read from disk) accepts
    every plugin model and RecBole's own, and refuses a misspelt one with a suggestion."""
    from recbole_outfit.errors import ConfigError
    from recbole_outfit.model import MODELS
    from recbole_outfit.validation import check_model_names

    check_model_names([*MODELS, "BPR", "LightGCN", "Pop", "Random"])
    with pytest.raises(ConfigError, match="unknown model 'FNDC'. Did you mean 'FNDCL'"):
        check_model_names(["NPair", "FNDC"])


# ============================================================================ E. seeds and trials at least one


@pytest.mark.parametrize("seeds", ["0", "-1"])
def test_seeds_below_one_are_refused(seeds, capsys):
    from recbole_outfit.cli import main

    assert main(["--model=NPair,BPR", f"--seeds={seeds}"]) == 2
    line = error_line(capsys.readouterr().err)
    assert f"--seeds must be at least 1, got {seeds}" in line and "--seeds=3" in line
    assert main(["--model=NPair", f"--seeds={seeds}"]) == 2  # one model used to run one seed silently


@pytest.mark.parametrize("evals", ["0", "-3"])
def test_max_evals_below_one_is_refused(evals, capsys):
    from recbole_outfit.experiments.hyper_cli import main

    assert main(["--algo=random", f"--max_evals={evals}"]) == 2
    assert f"--max_evals must be at least 1, got {evals}" in error_line(capsys.readouterr().err)


# ============================================================================ F. messages name their true source


@pytest.mark.parametrize("value, phrases", [
    ("{'epochs': 'abc'}", ["--teacher_config=... on the command line, the teacher stage's settings, key 'epochs'",
                           "epochs must be int, got 'abc'"]),
    ("{'backbone': 'XXL'}", ["the teacher stage's settings, key 'backbone'", "backbone must be one of large"]),
])
def test_a_bad_teacher_setting_is_named_as_the_teacher_stages(value, phrases, capsys):
    from recbole_outfit.cli import main

    assert main(["--model=FNDCL", f"--teacher_config={value}"]) == 2
    line = error_line(capsys.readouterr().err)
    for phrase in phrases:
        assert phrase in line, line
    assert "config_dict" not in line and "--backbone=" not in line and "as --epochs" not in line


def test_a_bad_teacher_setting_in_a_stage_config_names_the_stage(workspace):
    """Where the stage builds its own Config (a teacher_config set by a caller's config_dict), the message says
    the value is the teacher stage's, not a config_dict key."""
    from recbole_outfit.config import Config
    from recbole_outfit.errors import ConfigError
    from recbole_outfit.pipeline.keys import stage_config

    config = Config("FNDCL", "synthetic630", config_dict={"data_path": str(workspace / "atomic")})
    with pytest.raises(ConfigError) as error:
        stage_config("Teacher", config, {"backbone": "XXL"}, source="teacher_config")
    assert "teacher_config, key 'backbone'" in str(error.value) and "config_dict" not in str(error.value)


@pytest.mark.parametrize("text, phrases", [
    ("learning_rate: 1e-3\nepochs: abc\n", ["line 2", "epochs must be int, got 'abc'"]),
    ("epochs: 2\nlearning_rate: 0.1\nepochs: 3\n", ["line 3", "'epochs' is set twice: on line 1 and on line 3"]),
])
def test_a_bad_yaml_names_its_file_and_line(text, phrases, tmp_path, capsys):
    from recbole_outfit.cli import main

    path = tmp_path / "mine.yaml"
    path.write_text(text)
    assert main(["--model=NPair", f"--config_files={path}"]) == 2
    line = error_line(capsys.readouterr().err)
    for phrase in [str(path), *phrases]:
        assert phrase in line, line


def test_a_duplicate_key_in_a_properties_yaml_is_refused(tmp_path):
    from recbole_outfit.errors import ConfigError
    from recbole_outfit.settings import read_yaml_file

    path = tmp_path / "dataset.yaml"
    path.write_text("raw_path: a\nimage_size: 64\nraw_path: b\n")
    with pytest.raises(ConfigError, match=r"dataset.yaml, line 3: 'raw_path' is set twice: on line 1 and on line 3"):
        read_yaml_file(str(path))


def test_a_bad_searched_value_names_the_hyper_file_and_line(workspace, run_dir):
    from recbole_outfit.errors import ConfigError
    from recbole_outfit.experiments import hyper

    path = run_dir / "bad.hyper"
    path.write_text(textwrap.dedent("""\
        # the second line's values are not whole numbers
        fnd_alpha choice [1.0, 2.0]
        epochs choice [2, 'abc']
    """))
    with pytest.raises(ConfigError) as error:
        hyper.check_space("FND", "synthetic630", hyper.read_params_file(str(path)), "exhaustive", None,
                          tiny_config(workspace, run_dir), str(path))
    assert f"{path}, line 3, a searched value, key 'epochs'" in str(error.value)
    assert "epochs must be int, got 'abc'" in str(error.value)


def test_the_yaml_reader_reads_as_recboles_config():
    """``settings.YamlLoader`` (no RecBole import) reads numbers as RecBole's Config's loader does."""
    import yaml
    from recbole.config import Config as RecBoleConfig

    from recbole_outfit.settings import YamlLoader

    text = "a: 1e-3\nb: 2\nc: .5\nd: 1.5e+2\ne: [1, 2]\nf: x\ng: 1_000\nh: -3e2\n"
    assert yaml.load(text, Loader=YamlLoader) == yaml.load(text, Loader=RecBoleConfig._build_yaml_loader(None))
