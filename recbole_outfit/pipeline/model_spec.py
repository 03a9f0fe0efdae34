"""A model named with its own settings, as ``--model`` takes it: ``FND:teacher=oracle;fnd_alpha=2.5``.

``--model=NPair,FND:teacher=oracle`` names two runs; a run's own settings follow its name after ``:``,
separated by ``;``. The single run, the comparison and the search read ``--model`` the same way.
"""


def split_model_specs(text):
    """``--model``'s comma-separated list: ``NPair,FND:teacher_config={'seed': 2020, 'epochs': 30}`` -> two specs
    (a comma inside braces, brackets or parentheses belongs to a setting's value, not to the list)."""
    specs, depth, current = [], 0, []
    for char in text:
        depth += {"{": 1, "[": 1, "(": 1, "}": -1, "]": -1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            specs.append("".join(current))
            current = []
        else:
            current.append(char)
    specs.append("".join(current))
    return [spec for spec in specs if spec]


def parse_model_spec(spec):
    """``LPAE:lpae_variant=g`` -> ("LPAE", {"lpae_variant": "g"}); a plain name has no settings."""
    name, _, rest = spec.partition(":")
    settings = dict(item.split("=", 1) for item in rest.split(";") if item) if rest else {}
    return name, settings
