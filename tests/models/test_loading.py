import os
import pickle

import pytest
import torch
from safetensors.torch import save_file

from cogvision.models import (
    BUILTIN_MODELS,
    MODEL_SOURCES,
    SPEC_EXAMPLES,
    load_model,
    preprocessing_for,
    read_state_dict,
    register_model,
)

TINY = "builtin:tiny_cnn"


def test_specs_of_every_kind(tmp_path):
    vit = load_model("timm:vit_tiny_patch16_224", device="cpu", img_size=32, num_classes=3)
    assert vit(torch.rand(1, 3, 32, 32)).shape == (1, 3)
    assert preprocessing_for(vit).source == "timm"
    tv = load_model("torchvision:resnet18", device="cpu", num_classes=4)
    assert tv(torch.rand(1, 3, 64, 64)).shape == (1, 4)
    assert preprocessing_for(tv).source == "torchvision"
    cnn = load_model(TINY, device="cpu", num_classes=5)
    assert cnn(torch.rand(2, 3, 64, 64)).shape == (2, 5)
    assert not cnn.training
    scripted = torch.jit.script(cnn)
    path = tmp_path / "cnn.pt"
    scripted.save(str(path))
    loaded = load_model(f"torchscript:{path}", device="cpu")
    x = torch.rand(1, 3, 64, 64)
    torch.testing.assert_close(loaded(x), cnn(x))


@pytest.mark.parametrize("spec, allow_code, message", [
    ("vit_small", False, "must look like"),
    ("timm:vit_smal_patch16_224", False, "close matches"),
    ("torchvision:resnet19", False, "resnet18"),
    ("builtin:tiny_cn", False, "did you mean 'tiny_cnn'"),
    ("cogvision.models.builtin:tiny_cn", False, "tiny_cnn"),
    ("tim:resnet18", False, (r"'tim' is not a model source \(did you mean timm:\?\)\. Sources that run no code: "
                             "builtin, hf, timm, torchscript, torchvision")),
    ("t-x:resnet18", True, "unknown model source 't-x'.*choices: builtin, hf, timm, torchscript, torchvision"),
    ("no_such_module_xyz:factory", True, "cannot import"),
    ("timm:", False, "no name"),
    ("data_loaders.shared:ENV_VAR", True, "expected a callable"),
    ("data_loaders.shared:shared_dir", True, "expected a torch.nn.Module"),
])
def test_bad_specs_give_clear_errors(spec, allow_code, message):
    with pytest.raises(ValueError, match=message):
        load_model(spec, device="cpu", allow_code=allow_code)


def test_builtin_names_and_their_older_spelling_load_without_allow_code():
    torch.manual_seed(0)
    a = load_model("builtin:tiny_vit", device="cpu")
    torch.manual_seed(0)
    b = load_model("cogvision.models.builtin:tiny_vit", device="cpu")
    x = torch.rand(1, 3, 64, 64)
    torch.testing.assert_close(a(x), b(x))
    assert preprocessing_for(a) == preprocessing_for(b) and preprocessing_for(a).source == "builtin"
    assert {"tiny_cnn", "tiny_vit", "permutation_invariant"} <= set(BUILTIN_MODELS)
    assert set(SPEC_EXAMPLES) == set(MODEL_SOURCES) | {"module"}


def test_code_specs_are_refused_before_import_unless_allowed(tmp_path, monkeypatch):
    marker = tmp_path / "imported.txt"
    (tmp_path / "user_nets.py").write_text(
        "import pathlib, torch\n"
        f"pathlib.Path({str(marker)!r}).write_text('ran')\n"
        "def net(width=3):\n    return torch.nn.Linear(2, width)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match="runs Python code, so it is loaded only with allow_code=True") as err:
        load_model("user_nets:net", device="cpu")
    assert "'user_nets' is not a model source" in str(err.value) and "allow_code: true" in str(err.value)
    assert not marker.exists()  # refused before importing anything
    model = load_model("user_nets:net", device="cpu", allow_code=True, width=4)
    assert marker.exists() and model.out_features == 4 and model.cogvision_spec == "user_nets:net"


def test_unregistered_functions_inside_cogvision_need_allow_code():
    with pytest.raises(ValueError, match="cogvision.models.probe.list_layers is not a registered cogvision model "
                                         "constructor.*allow_code=True"):
        load_model("cogvision.models.probe:list_layers", device="cpu")


def test_register_model_refuses_a_second_constructor_under_a_known_name():
    def tiny_cnn():
        return torch.nn.Identity()

    with pytest.raises(ValueError, match="'tiny_cnn' is registered already"):
        register_model(tiny_cnn)
    assert register_model(BUILTIN_MODELS["tiny_cnn"]) is BUILTIN_MODELS["tiny_cnn"]  # the same one again is fine


def test_code_running_options_of_other_sources_need_allow_code(tmp_path):
    with pytest.raises(ValueError, match="trust_remote_code=True runs the folder's Python code"):
        load_model(f"hf:{tmp_path}", device="cpu", trust_remote_code=True)
    scripted = tmp_path / "m.pt"
    torch.jit.script(torch.nn.Linear(2, 2)).save(str(scripted))
    with pytest.raises(ValueError, match="takes no constructor arguments"):
        load_model(f"torchscript:{scripted}", device="cpu", num_classes=3)


def test_missing_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model(TINY, weights=tmp_path / "nope.pth", device="cpu")
    with pytest.raises(FileNotFoundError, match="TorchScript"):
        load_model(f"torchscript:{tmp_path / 'nope.pt'}", device="cpu")


def test_hf_without_transformers_or_folder_is_clear(tmp_path):
    with pytest.raises((ValueError, FileNotFoundError), match="transformers|no local"):
        load_model(f"hf:{tmp_path / 'missing'}", device="cpu")


def test_weights_safetensors_nested_and_prefixed(tmp_path):
    source = load_model(TINY, device="cpu")
    for p in source.parameters():
        torch.nn.init.normal_(p)
    state = source.state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "w.safetensors"))
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in state.items()}}, tmp_path / "w.pth")
    x = torch.rand(1, 3, 64, 64)
    for name in ("w.safetensors", "w.pth"):
        model = load_model(TINY, weights=tmp_path / name, device="cpu")
        torch.testing.assert_close(model(x), source.eval()(x))


def test_mismatched_weights_list_keys_and_spec(tmp_path):
    other = load_model(TINY, device="cpu", num_classes=7).state_dict()
    other["extra.weight"] = torch.zeros(1)
    del other["features.0.0.weight"]
    torch.save(other, tmp_path / "bad.pth")
    with pytest.raises(ValueError) as err:
        load_model(TINY, weights=tmp_path / "bad.pth", device="cpu")
    text = str(err.value)
    assert TINY in text and "features.0.0.weight" in text and "extra.weight" in text and "head.weight" in text


class _Payload:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))  # unpickling this would create a file


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    target = tmp_path / "pwned.txt"
    path = tmp_path / "evil.pth"
    with open(path, "wb") as fh:
        pickle.dump({"state_dict": {"w": _Payload(str(target))}}, fh)
    # the same payload through torch.save's zip format too
    torch.save({"w": _Payload(str(target))}, tmp_path / "evil_zip.pth")
    os.remove(target) if target.exists() else None  # torch.save does not run __reduce__'s result
    for name in ("evil.pth", "evil_zip.pth"):
        with pytest.raises(ValueError, match="refused"):
            read_state_dict(tmp_path / name)
        with pytest.raises(ValueError, match="refused"):
            load_model(TINY, weights=tmp_path / name, device="cpu")
    assert not target.exists()


def test_mobilenet_v2_imagenet_classifies_real_photographs(shared):
    import skimage.data

    from data_loaders.images import to_tensor

    weights = shared / "models" / "mobilenet_v2_imagenet" / "mobilenet_v2-b0353104.pth"
    model = load_model("torchvision:mobilenet_v2", weights=weights, device="cpu")
    prep = preprocessing_for(model)
    with torch.no_grad():
        cat = model(prep(to_tensor(skimage.data.chelsea())[None])).argmax().item()
        coffee = model(prep(to_tensor(skimage.data.coffee())[None])).argmax().item()
    assert 281 <= cat <= 287  # ImageNet cat classes (tabby .. Egyptian cat, lynx)
    assert coffee in (504, 967, 968)  # coffee mug, espresso, cup
