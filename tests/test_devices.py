"""Every module on the device given by ``pytest --device NAME`` (default cpu), checked against CPU.

On a GPU machine: ``pytest --device cuda tests/test_devices.py``. In CI (CPU only) the same checks run
with both sides on the CPU, so the file never skips; on CUDA they also cover float16 autocast in
``fit`` and the GPU code paths of the ridge, the foveation transforms, DiSRT, OAT, the brain encoders
and ViTGaze.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import Ridge
from torch.utils.data import TensorDataset

from cogvision.training import fit


def _close(a, b, tol):
    torch.testing.assert_close(torch.as_tensor(a).cpu().double(), torch.as_tensor(b).cpu().double(),
                               rtol=tol, atol=tol)


def test_fit_on_device_learns_and_resumes(device, tmp_path):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 8, generator=g)
    y = x @ torch.linspace(-2, 2, 8) + 0.05 * torch.randn(256, generator=g)
    data = TensorDataset(x, y)

    def model():
        torch.manual_seed(1)
        return torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))

    def loss(net, batch):
        return torch.nn.functional.mse_loss(net(batch[0]).squeeze(-1).float(), batch[1])

    kw = dict(epochs=6, batch_size=32, lr=0.01, device=device, progress=False, mixed_precision=True)
    full = model()
    result = fit(full, data, loss, checkpoint_dir=tmp_path / "a", **kw)  # float16 autocast on CUDA
    assert next(full.parameters()).device.type == device.type
    assert result.history.train_loss.iloc[-1] < 0.1 * result.history.train_loss.iloc[0]
    fit(model(), data, loss, checkpoint_dir=tmp_path / "b", **dict(kw, epochs=3))
    resumed = model()
    fit(resumed, data, loss, checkpoint_dir=tmp_path / "b", resume=True, **kw)
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values()):
        _close(a, b, 1e-5)


def test_ridge_on_device_equals_scikit_learn(device):
    from cogvision.brain import RidgeCV

    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(120, 30)), rng.normal(size=(30, 50))
    y = x @ w + rng.normal(size=(120, 50)) * rng.uniform(0.5, 20, 50)
    ours = RidgeCV(alphas=np.logspace(-2, 4, 7), cv=4, device=device, dtype="float64").fit(x, y)
    assert len(np.unique(ours.best_alphas_)) > 1
    for alpha in np.unique(ours.best_alphas_):
        cols = ours.best_alphas_ == alpha
        ref = Ridge(alpha=alpha).fit(x, y[:, cols]).predict(x)
        np.testing.assert_allclose(ours.predict(x)[:, cols], ref.reshape(120, -1), atol=1e-6)
    single = RidgeCV(alphas=[1.0], cv=4, device=device, dtype="float32").fit(x, y)
    np.testing.assert_allclose(single.predict(x), Ridge(alpha=1.0).fit(x, y).predict(x), rtol=1e-3, atol=1e-3)


def test_foveation_on_device_equals_cpu(device):
    from cogvision.foveation import FoveatedBlur, FoveatedTexture, UniformBlur

    images = torch.rand(2, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    for system in (FoveatedTexture(0.4, seed=0), FoveatedBlur(0.1), UniformBlur(0.5)):
        cpu = system(images)
        moved = system.to(device)
        dev_images = images.to(device).requires_grad_(True)
        out = moved(dev_images)
        assert out.device.type == device.type
        _close(out.detach(), cpu, 1e-4)  # the same seed gives the same texture on every device
        out.sum().backward()
        assert torch.isfinite(dev_images.grad).all() and dev_images.grad.abs().sum() > 0
        system.to("cpu")


def test_emergent_suite_on_device(device):
    from cogvision.foveation import emergent
    from data_loaders.images import wheel_dataset

    train = wheel_dataset(n_per_class=2, size=64, seed=0)
    test = wheel_dataset(n_per_class=1, size=64, seed=1)
    systems = {name: emergent.make_system(name) for name in ("reference", "foveated_blur")}
    result = emergent.run_suite(train, test, systems=systems, arch="alexnet", epochs=1, batch_size=16,
                                device=str(device), fractions=(0.0, 0.5), sigmas_px=(0, 4), radii=(0.5,))
    assert result["accuracy"].sizes == {"system": 2, "run": 1}
    assert np.isfinite(result["generalisation"].values).all()


def test_disrt_on_device_equals_cpu(device):
    from cogvision.gestalt import DisrtProtocol, run_disrt
    from cogvision.models import load_model
    from data_loaders.images import builtin_images

    images, _ = builtin_images(["astronaut", "chelsea", "coffee"], size=64)
    protocol = DisrtProtocol(distortions=("shuffle", "rotate"), grids=(2, 4), n_boot=50)
    results = []
    for dev in ("cpu", device):
        torch.manual_seed(0)
        model = load_model("cogvision.models.builtin:tiny_cnn", device=dev)
        results.append(run_disrt(model, images, protocol, layers=["features.0", "features.3"], topk=(0.2,)))
    cpu, other = results
    for name in ("s_in", "s_id", "s_nd", "index"):
        _close(other[name].values, cpu[name].values, 1e-3)  # float32 sums in another order (Top-K ties)
    # the odd one out is the item least similar to the other two; compare decisions that are not near-ties
    # (the pixel observer with a matched nuisance is a tie by design)
    mean_sim = np.stack([cpu.s_in + cpu.s_id, cpu.s_in + cpu.s_nd, cpu.s_id + cpu.s_nd]) / 2
    ordered = np.sort(mean_sim, axis=0)
    clear = (ordered[1] - ordered[0]) > 1e-3
    assert clear.mean() > 0.5
    np.testing.assert_array_equal(other["correct"].values[clear], cpu["correct"].values[clear])


def test_extract_features_on_device_equals_cpu(device):
    from cogvision.models import extract_features, load_model

    images = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    model = load_model("cogvision.models.builtin:tiny_vit", device="cpu")
    cpu = extract_features(model, images)
    other = extract_features(model.to(device), images)
    for name in cpu:
        _close(other[name].values, cpu[name].values, 1e-4)


def test_oat_on_device_fits_and_decodes_like_cpu(device, tmp_path, monkeypatch):
    from cogvision.scanpath import OAT
    from data_loaders.synthetic_scanpaths import make_synthetic_scanpaths

    monkeypatch.setenv("COGVISION_CACHE", str(tmp_path))
    data = make_synthetic_scanpaths(n_scenes=16, n_subjects=2, rows=3, cols=4, seed=0)
    model = OAT(d_model=32, n_heads=2, n_layers=1, ffn=64, pe_iterations=500, epochs=5, batch_size=8, lr=3e-3,
                patience=None, seed=0, device=str(device)).fit(data)
    assert next(model.network_.parameters()).device.type == device.type
    on_device = model.log_likelihood(data)
    greedy = model.predict(data)
    model.network_.to("cpu")
    on_cpu = model.log_likelihood(data)
    np.testing.assert_allclose(on_device.log_prob, on_cpu.log_prob, atol=1e-4)
    # greedy decoding follows the same network; float differences may flip a near-tie in a barely trained net
    sequences = [{t: tuple(g.object) for t, g in frame.groupby("trial")} for frame in (greedy, model.predict(data))]
    same = np.mean([sequences[0][t] == sequences[1].get(t) for t in sequences[0]])
    assert same >= 0.9, same


def test_transformer_brain_encoder_on_device(device):
    from cogvision.brain.transformer import TransformerBrainEncoder

    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 4, 5, 5)).astype(np.float32)
    y = np.stack([x[:, 1, 2, 3], x[:, 2, 0, 0] - x[:, 3, 4, 4]], 1)
    info = pd.DataFrame({"roi": ["a", "b"]})
    enc = TransformerBrainEncoder(queries="roi", d_model=16, n_heads=2, dim_feedforward=32, dropout=0.0, epochs=3,
                                  validation_fraction=0.0, device=str(device)).fit(x, y, target_info=info)
    on_device = enc.predict(x)
    maps = enc.routing_maps(x[:8])
    np.testing.assert_allclose(maps.sum(("y", "x")), 1.0, atol=1e-5)
    enc.module_.to("cpu")
    np.testing.assert_allclose(enc.predict(x), on_device, atol=1e-4)


def test_vitgaze_on_device_equals_cpu(device):
    from cogvision.gaze.model import build_vitgaze

    torch.manual_seed(0)
    model = build_vitgaze("cogvision.models.builtin:tiny_vit", device="cpu").eval()
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    boxes = torch.tensor([[0.1, 0.1, 0.3, 0.3], [0.6, 0.5, 0.8, 0.7]])
    index = torch.tensor([0, 1])
    with torch.no_grad():
        cpu = model(images, boxes, index)
        other = model.to(device)(images.to(device), boxes.to(device), index.to(device))
    _close(other.heatmap, cpu.heatmap, 1e-4)
    _close(other.inout_logit, cpu.inout_logit, 1e-4)
