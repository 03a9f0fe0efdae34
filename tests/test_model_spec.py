"""``--model``'s list of models, each with its own settings (``pipeline/model_spec.py``)."""

from recbole_outfit.pipeline.model_spec import parse_model_spec, split_model_specs


def test_a_model_list_keeps_commas_inside_a_settings_value():
    text = "NPair,FND:teacher=trained;teacher_config={'seed': 2020, 'epochs': 30},LPAE:lpae_variant=g,"
    assert split_model_specs(text) == ["NPair", "FND:teacher=trained;teacher_config={'seed': 2020, 'epochs': 30}",
                                       "LPAE:lpae_variant=g"]
    assert split_model_specs("FNDCL") == ["FNDCL"]
    assert split_model_specs("A:x=[1, 2],B:y=(3, 4)") == ["A:x=[1, 2]", "B:y=(3, 4)"]


def test_a_spec_names_its_model_and_settings():
    assert parse_model_spec("LPAE:lpae_variant=g;lpae_anchors=2") == ("LPAE", {"lpae_variant": "g", "lpae_anchors": "2"})
    assert parse_model_spec("NPair") == ("NPair", {})
    assert parse_model_spec("FND:teacher_config={'a': 1}") == ("FND", {"teacher_config": "{'a': 1}"})
