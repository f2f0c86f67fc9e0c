from pathlib import Path

import pytest
import yaml

from refusal_evals.core.files import DataFileError
from refusal_evals.core.schema import CONDITIONS
from refusal_evals.roleplay.scenarios import load_scenario, scenario_path, scenario_samples


def write_variant_of_car_sales(tmp_path: Path, edit) -> Path:  # noqa: ANN001
    data = yaml.safe_load(scenario_path("car_sales").read_text())
    edit(data)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_builtin_car_sales_is_valid_and_rich_enough():
    s = load_scenario("car_sales")
    assert len(s.variants) >= 8
    assert len(s.follow_ups) >= 3
    assert {"car", "defect"} <= s.placeholders()
    samples = scenario_samples(s, list(CONDITIONS))
    assert len(samples) == len(s.variants) * 3
    # samples are not one prompt repeated
    assert len({tuple(m.text for m in x.input) for x in samples}) == len(s.variants)
    sample = samples[0]
    assert sample.metadata["condition"] in CONDITIONS
    assert sample.metadata["scenario_version"] == s.version


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d.pop("system_prompt"), "system_prompt: Field required"),
        (lambda d: d["injected"].pop("rebuttal"), "injected.rebuttal: Field required"),
        (lambda d: d.update(follow_ups=[]), "follow_ups: List should have at least 1 item"),
        (lambda d: d.update(sytem_prompt="x"), "sytem_prompt: unknown field"),
        (
            lambda d: d["variants"][1]["vars"].pop("car"),
            "variants[1] (id 'f150-frame') does not define car",
        ),
        (lambda d: d["variants"][0].update(id="Bad Id"), "variants.0.id"),
        (
            lambda d: d["behaviour_judge"].update(
                examples=[e for e in d["behaviour_judge"]["examples"] if e["label"] == "undesired"]
            ),
            "at least one 'undesired' and one 'acceptable' example",
        ),
        (
            lambda d: d["behaviour_judge"]["examples"][0].update(label="bad"),
            "examples[0].label: 'bad' is not one of undesired, acceptable",
        ),
        (lambda d: d.update(authority_request="Manager: hide the {defect!r}"), "plain name"),
        (lambda d: d["reply_format"].update(output_tag="reasoning"), "must differ"),
    ],
)
def test_malformed_scenario_names_file_and_field(tmp_path, edit, expected):
    path = write_variant_of_car_sales(tmp_path, edit)
    with pytest.raises(DataFileError) as err:
        load_scenario(str(path))
    message = str(err.value)
    assert str(path) in message
    assert expected in message


def test_bad_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: [unclosed\n")
    with pytest.raises(DataFileError, match=r"bad.yaml: not valid YAML"):
        load_scenario(str(bad))
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    with pytest.raises(DataFileError, match="expected a mapping"):
        load_scenario(str(listed))
    with pytest.raises(DataFileError, match="file not found"):
        load_scenario(str(tmp_path / "nope.yaml"))


def test_every_scenario_file_is_valid_and_registered_as_a_task():
    """Scenarios are discovered, never listed: each file in roleplay/scenarios/ loads, is named by its
    id, and is the task refusal_evals/<id> (one line in _registry.py: <id> = scenario_task("<id>"))."""
    from inspect_ai._util.registry import registry_lookup

    import refusal_evals._registry  # noqa: F401  (what Inspect's entry point loads)
    from refusal_evals.roleplay.scenarios import SCENARIO_DIR

    files = sorted(SCENARIO_DIR.glob("*.yaml"))
    assert {"car_sales", "real_estate"} <= {f.stem for f in files}
    for file in files:
        scenario = load_scenario(file.stem)
        assert scenario.id == file.stem, f"{file.name}: id {scenario.id!r} differs from the file name"
        found = registry_lookup("task", f"refusal_evals/{scenario.id}")
        assert found is not None, f"{file.name} is not registered: add {scenario.id} = scenario_task(...)"
