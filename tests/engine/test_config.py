"""Config files, dotted overrides and the errors a user can cause."""

from __future__ import annotations

from pathlib import Path

import pytest

from alignseg.engine.config import Config, ConfigError, load_config, parse_overrides, save_config

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "configs").rglob("*.yaml"))


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_file_and_overrides(tmp_path):
    path = write(tmp_path, "model: {name: sfnet_r18}\ntrain: {max_epochs: 10}\ndata: {crop_size: [256, 512]}\n")
    config = load_config(path, ["train.max_epochs=3", "data.root=/x", "eval.scales=[0.5, 1, 2]", "optim.lr=1e-3"])
    assert config.model.name == "sfnet_r18"
    assert config.train.max_epochs == 3
    assert config.data.root == "/x"
    assert config.data.crop_size == [256, 512]
    assert config.eval.scales == [0.5, 1.0, 2.0] and all(isinstance(s, float) for s in config.eval.scales)
    assert config.optim.lr == pytest.approx(1e-3)
    assert config.optim.name == "sgd"  # a default
    assert config.optim.layer_decay is None  # layer-wise lr decay off unless asked for
    decayed = load_config(path, ["optim.layer_decay=0.9", "optim.layer_decay_type=stage_wise",
                                 "optim.layer_decay_num_layers=12"]).optim
    assert (decayed.layer_decay, decayed.layer_decay_type, decayed.layer_decay_num_layers) == (0.9, "stage_wise", 12)


def test_saved_config_reads_back(tmp_path):
    config = load_config(None, ["train.max_steps=7", "data.train_kwargs={num_samples: 4}", "loss.aux_weights=[1, 0.4]"])
    save_config(config, tmp_path / "saved.yaml")
    again = load_config(tmp_path / "saved.yaml")
    assert again == config


@pytest.mark.parametrize(
    ("text", "overrides", "expected"),
    [
        ("train: {max_epoch: 3}\n", [], r"c\.yaml: unknown key 'train\.max_epoch'; valid keys in 'train'"),
        ("trian: {max_epochs: 3}\n", [], r"c\.yaml: unknown section 'trian'"),
        ("train: {max_epochs: three}\n", [], r"c\.yaml: 'train\.max_epochs' must be int \| null, got 'three'"),
        ("train: {max_epochs: 3}\n", ["train.max_epochs=1.5"], r"command-line override: 'train\.max_epochs' must"),
        ("train: {max_epochs: 3}\n", ["optim.name=adam"], r"'optim\.name' must be 'sgd' \| 'adamw', got 'adam'"),
        ("train: {max_epochs: 3}\n", ["train.nope=1"], r"command-line override: unknown key 'train\.nope'"),
        ("train: {max_epochs: 3}\n", ["data.blur=yes please"], r"'data\.blur' must be bool"),
        ("train: {max_epochs: 3, max_steps: 9}\n", [], r"c\.yaml: set exactly one of train\.max_epochs"),
        ("train: {max_epochs: 3}\neval: {mode: sliding}\n", [], r"needs eval\.window"),
        ("train: {max_epochs: 3}\ndata: {scale_range: [2.0, 0.5]}\n", [], r"data\.scale_range must be"),
        ("- just\n- a list\n", [], r"must be a mapping"),
        ("train: [1, 2]\n", [], r"section 'train' must be a mapping"),
        ("train: {max_epochs: 3}\n", ["optim.layer_decay=1.5"], r"optim\.layer_decay must be in \(0, 1\]"),
        ("train: {max_epochs: 3}\n", ["optim.layer_decay_type=block"], r"'optim\.layer_decay_type' must be"),
    ],
)
def test_errors_name_the_key_and_the_source(tmp_path, text, overrides, expected):
    with pytest.raises(ConfigError, match=expected):
        load_config(write(tmp_path, text), overrides)


def test_bad_override_syntax_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"section\.key=value"):
        parse_overrides(["max_epochs=3"])
    with pytest.raises(ConfigError, match=r"section\.key=value"):
        parse_overrides(["train.max_epochs"])
    with pytest.raises(FileNotFoundError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")


def test_evaluation_does_not_need_a_training_length():
    assert load_config(None, ["model.name=sfnet_r18"], training=False).train.max_epochs is None
    with pytest.raises(ConfigError, match="max_epochs"):
        load_config(None, [])


def test_the_cli_reports_config_errors_in_one_line(tmp_path, capsys):
    from alignseg.cli import main

    path = write(tmp_path, "train: {max_epochs: 3, bogus: 1}\n")
    assert main(["train", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown key 'train.bogus'" in err[0] and "c.yaml" in err[0]


@pytest.mark.parametrize("path", CONFIGS, ids=[str(p.relative_to(REPO / "configs")) for p in CONFIGS])
def test_repository_configs_load(path):
    from alignseg.models.zoo import list_models

    text = path.read_text()
    assert text.startswith("#"), "every config starts with a header comment naming what it reproduces"
    config = load_config(path)
    assert isinstance(config, Config)
    assert config.model.name in list_models()


def test_camvid_configs_cover_the_sfnet_family():
    from alignseg.models.zoo import list_models

    family = [name for name in list_models() if name.startswith(("sfnet", "fpn_ppm", "fcn"))]
    present = {p.stem for p in (REPO / "configs" / "camvid").glob("*.yaml")}
    assert set(family) <= present
    for name in family:
        config = load_config(REPO / "configs" / "camvid" / f"{name}.yaml")
        assert config.model.name == name and config.model.num_classes == 11 and config.data.dataset == "camvid"


def test_demo_yaml_is_the_built_in_demo():
    from alignseg.engine.demo import demo_config

    assert load_config(REPO / "configs" / "demo.yaml") == demo_config()


def test_train_command_takes_overrides_after_a_bare_resume(tmp_path, monkeypatch):
    import alignseg.engine.trainer as trainer
    from alignseg.cli import main

    seen = {}

    def fake_fit(config, *, resume=None, **kwargs):
        seen.update(config=config, resume=resume)
        raise ValueError("stopped before training")

    monkeypatch.setattr(trainer, "fit", fake_fit)
    path = write(tmp_path, "train: {max_epochs: 3}\n")
    assert main(["train", "--config", str(path), "--resume", "train.max_epochs=9", "optim.lr=0.5"]) == 2
    assert seen["resume"] == "auto"
    assert seen["config"].train.max_epochs == 9 and seen["config"].optim.lr == 0.5


def test_an_override_can_set_one_entry_of_a_mapping(tmp_path):
    path = write(tmp_path, "train: {max_epochs: 3}\nloss: {aux_weights: {dsn: 0.4}}\n")
    config = load_config(path, ["loss.aux_weights.teacher=1", "loss.term_weights.car_intra=0.5"])
    assert config.loss.aux_weights == {"dsn": 0.4, "teacher": 1.0}
    assert config.loss.term_weights == {"car_intra": 0.5}
    assert load_config(None, ["train.max_epochs=1", "loss.aux_weights=0.4"]).loss.aux_weights == 0.4
    with pytest.raises(ConfigError, match=r"'loss\.aux_weights' is 0\.4 in .*c\.yaml, not a mapping"):
        load_config(write(tmp_path, "train: {max_epochs: 3}\nloss: {aux_weights: 0.4}\n"), ["loss.aux_weights.x=1"])
    with pytest.raises(ConfigError, match=r"'loss\.term_weights' must be mapping"):
        load_config(None, ["train.max_epochs=1", "loss.term_weights.car_intra=high"])
