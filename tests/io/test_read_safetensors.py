"""read_safetensors: tensors and metadata back as written, one clear error for a missing or unreadable file."""

import pytest
import torch
from safetensors.torch import save_file

from cogvision.io import read_safetensors


def test_round_trip_keeps_tensors_and_metadata(tmp_path):
    tensors = {"w": torch.arange(6.0).view(2, 3), "b": torch.tensor([1, 2], dtype=torch.int64)}
    save_file(tensors, str(tmp_path / "m.safetensors"), metadata={"format": "test/1"})
    read, meta = read_safetensors(tmp_path / "m.safetensors")
    assert meta == {"format": "test/1"} and set(read) == {"w", "b"}
    for key, value in tensors.items():
        assert torch.equal(read[key], value)
    save_file(tensors, str(tmp_path / "plain.safetensors"))
    assert read_safetensors(tmp_path / "plain.safetensors")[1] == {}


def test_missing_folder_and_corrupt_files_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"encoder file .*absent.safetensors does not exist"):
        read_safetensors(tmp_path / "absent.safetensors", "encoder file")
    with pytest.raises(FileNotFoundError, match=r"is not a file"):
        read_safetensors(tmp_path)
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file at all")
    with pytest.raises(ValueError, match=r"safetensors file .*bad.safetensors is not a readable .safetensors file"):
        read_safetensors(tmp_path / "bad.safetensors")
