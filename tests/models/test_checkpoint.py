"""The one weights format: safetensors + a JSON record, written and read by ``alignseg.models.checkpoint``;
older .pt / Lightning .ckpt files still read, through ``torch.load(weights_only=True)`` only."""

import json
import struct

import pytest
import torch

import alignseg
from alignseg.models.checkpoint import ModelRecord, read_checkpoint, save_checkpoint
from alignseg.models.weights import WeightsError

STATE = {"backbone.w": torch.ones(2), "decoder.b": torch.zeros(3)}


def test_safetensors_checkpoint_round_trips_bit_exactly_with_its_record(tmp_path):
    model = alignseg.create_model("sfnet_df1", num_classes=4, aux_heads=True)
    with torch.no_grad():  # values no initialiser gives: every bit must survive
        for value in model.state_dict().values():
            if value.is_floating_point():
                value.copy_(torch.randn(value.shape, dtype=torch.float64).float() * 1e-3)
    record = ModelRecord(model="sfnet_df1", class_names=["a", "b", "c", "d"], palette=[(1, 2, 3)] * 4,
                         mean=(0.5, 0.5, 0.5), std=(0.2, 0.2, 0.2), decoder_options={}, config={"optim": {"lr": 0.01}},
                         metrics={"val_miou": 0.5}, source="a test")
    path = save_checkpoint(tmp_path / "model.safetensors", model, record, epoch=3)
    assert path.read_bytes()[8:9] == b"{" and not list(tmp_path.glob("*.tmp"))
    checkpoint = read_checkpoint(path)
    state = model.state_dict()
    assert checkpoint.state_dict.keys() == state.keys()
    def bits(tensor):
        return tensor.reshape(-1).view(torch.uint8) if tensor.is_floating_point() else tensor

    for key, value in state.items():
        stored = checkpoint.state_dict[key]
        assert stored.dtype == value.dtype and torch.equal(bits(stored), bits(value)), key
    assert checkpoint.record == record.replace(epoch=3, align_corners=True, num_classes=4)
    assert checkpoint.record.num_classes == 4 and checkpoint.record.class_names == ("a", "b", "c", "d")


def test_the_record_is_json_in_the_safetensors_header(tmp_path):
    path = save_checkpoint(tmp_path / "w.safetensors", STATE, model="sfnet_r18", num_classes=3)
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    record = json.loads(header["__metadata__"]["alignseg"])
    assert header["__metadata__"]["format"] == "alignseg"
    assert record == {"format_version": 1, "model": "sfnet_r18", "num_classes": 3, "ignore_index": 255}


def test_old_alignseg_pt_keeps_plain_and_dict_metadata_but_not_tensor_containers(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"model": "sfnet_r18", "num_classes": 3, "decoder_options": {"norm": "GN"}, "val_miou": 0.25,
                "config": {"optim": {"lr": 0.01}}, "optimizer": {"state": {0: {"buf": torch.ones(1)}}},
                "state_dict": STATE}, path)
    checkpoint = read_checkpoint(path)
    assert checkpoint.state_dict.keys() == STATE.keys()
    assert checkpoint.record == ModelRecord(model="sfnet_r18", num_classes=3, decoder_options={"norm": "GN"},
                                            config={"optim": {"lr": 0.01}}, metrics={"val_miou": 0.25})


def test_lightning_checkpoint_gives_the_model_tensors_and_alignseg_metadata(tmp_path):
    path = tmp_path / "last.ckpt"
    torch.save({"epoch": 4, "global_step": 120, "alignseg": {"model": "sfnet_r18", "num_classes": 3},
                "state_dict": {**{f"model.{k}": v for k, v in STATE.items()}, "criterion.weight": torch.ones(3)},
                "optimizer_states": [{"state": {}}]}, path)
    checkpoint = read_checkpoint(path)
    assert checkpoint.state_dict.keys() == STATE.keys()
    assert checkpoint.record == ModelRecord(model="sfnet_r18", num_classes=3, epoch=4, step=120)


def test_bare_and_ddp_state_dicts(tmp_path):
    path = tmp_path / "bare.pth"
    torch.save({f"module.{k}": v for k, v in STATE.items()}, path)
    checkpoint = read_checkpoint(path)
    assert checkpoint.state_dict.keys() == STATE.keys() and checkpoint.record == ModelRecord()


def test_a_file_without_tensors_is_an_error_naming_it(tmp_path):
    path = tmp_path / "notes.pt"
    torch.save({"model": "sfnet_r18"}, path)
    with pytest.raises(WeightsError, match=r"notes\.pt' does not hold a state dict"):
        read_checkpoint(path)


def test_create_model_takes_a_checkpoint_already_read(tmp_path, monkeypatch):
    from alignseg.models import factory

    path = save_checkpoint(tmp_path / "df1.safetensors", alignseg.create_model("sfnet_df1", num_classes=4),
                           model="sfnet_df1", num_classes=4)
    checkpoint = read_checkpoint(path)
    assert checkpoint.source == str(path)
    monkeypatch.setattr(factory, "read_checkpoint", None)  # the file must not be read a second time
    model = alignseg.create_model("sfnet_df1", num_classes=4, pretrained=checkpoint)
    for key, value in checkpoint.state_dict.items():
        assert torch.equal(model.state_dict()[key], value), key
