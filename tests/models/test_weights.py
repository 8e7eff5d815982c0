"""Reading checkpoint files: the state dict and the metadata beside it, whatever wraps them."""

import pytest
import torch

from alignseg.models.weights import WeightsError, read_checkpoint

STATE = {"backbone.w": torch.ones(2), "decoder.b": torch.zeros(3)}


def test_alignseg_checkpoint_keeps_plain_and_dict_metadata_but_not_tensor_containers(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"model": "sfnet_r18", "num_classes": 3, "decoder_options": {"norm": "GN"},
                "config": {"optim": {"lr": 0.01}}, "optimizer": {"state": {0: {"buf": torch.ones(1)}}},
                "state_dict": STATE}, path)
    checkpoint = read_checkpoint(path)
    assert checkpoint.state_dict.keys() == STATE.keys()
    assert checkpoint.metadata == {"model": "sfnet_r18", "num_classes": 3, "decoder_options": {"norm": "GN"},
                                   "config": {"optim": {"lr": 0.01}}}


def test_lightning_checkpoint_gives_the_model_tensors_and_alignseg_metadata(tmp_path):
    path = tmp_path / "last.ckpt"
    torch.save({"epoch": 4, "global_step": 120, "alignseg": {"model": "sfnet_r18", "num_classes": 3},
                "state_dict": {**{f"model.{k}": v for k, v in STATE.items()}, "criterion.weight": torch.ones(3)},
                "optimizer_states": [{"state": {}}]}, path)
    checkpoint = read_checkpoint(path)
    assert checkpoint.state_dict.keys() == STATE.keys()
    assert checkpoint.metadata == {"model": "sfnet_r18", "num_classes": 3, "epoch": 4, "step": 120}


def test_bare_and_ddp_state_dicts(tmp_path):
    path = tmp_path / "bare.pth"
    torch.save({f"module.{k}": v for k, v in STATE.items()}, path)
    checkpoint = read_checkpoint(path)
    assert checkpoint.state_dict.keys() == STATE.keys() and checkpoint.metadata == {}


def test_a_file_without_tensors_is_an_error_naming_it(tmp_path):
    path = tmp_path / "notes.pt"
    torch.save({"model": "sfnet_r18"}, path)
    with pytest.raises(WeightsError, match=r"notes\.pt' does not hold a state dict"):
        read_checkpoint(path)


def test_create_model_takes_a_checkpoint_already_read(tmp_path, monkeypatch):
    import alignseg
    from alignseg.models import factory

    path = tmp_path / "df1.pt"
    torch.save({"model": "sfnet_df1", "num_classes": 4,
                "state_dict": alignseg.create_model("sfnet_df1", num_classes=4).state_dict()}, path)
    checkpoint = read_checkpoint(path)
    assert checkpoint.source == str(path)
    monkeypatch.setattr(factory, "read_checkpoint", None)  # the file must not be read a second time
    model = alignseg.create_model("sfnet_df1", num_classes=4, pretrained=checkpoint)
    for key, value in checkpoint.state_dict.items():
        assert torch.equal(model.state_dict()[key], value), key
