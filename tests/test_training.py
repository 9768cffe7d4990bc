import pytest
import torch
from torch.utils.data import TensorDataset

from cogvision.training import CHECKPOINT_NAME, fit
from tests.helpers import batch_mse, regression_problem, small_mlp


def _problem():
    return regression_problem(seed=0, n=96, noise=0.1, n_val=32, shift=0.01)


def _model():
    return small_mlp(seed=1, hidden=16, dropout=0.2)


def test_fit_learns_and_reports_history():
    train, val = _problem()
    model = _model()
    result = fit(model, train, batch_mse, epochs=15, batch_size=16, lr=0.02, val_metric=val, progress=False)
    h = result.history
    assert list(h.columns) == ["epoch", "train_loss", "val_metric", "lr", "seconds"]
    assert h.train_loss.iloc[-1] < 0.2 * h.train_loss.iloc[0]
    assert result.best_metric == h.val_metric.min()


def test_resume_equals_uninterrupted(tmp_path):
    train, val = _problem()
    full = _model()
    ref = fit(full, train, batch_mse, epochs=6, batch_size=16, lr=0.01, val_metric=val, progress=False,
              checkpoint_dir=tmp_path / "a", restore_best=False)
    part = _model()
    fit(part, train, batch_mse, epochs=3, batch_size=16, lr=0.01, val_metric=val, progress=False,
        checkpoint_dir=tmp_path / "b", restore_best=False)  # "interrupted" after epoch 3
    resumed_model = _model()
    resumed = fit(resumed_model, train, batch_mse, epochs=6, batch_size=16, lr=0.01, val_metric=val,
                  progress=False, checkpoint_dir=tmp_path / "b", resume=True, restore_best=False)
    for a, b in zip(full.state_dict().values(), resumed_model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert resumed.history.train_loss.tolist() == ref.history.train_loss.tolist()
    assert (tmp_path / "b" / CHECKPOINT_NAME).exists()
    assert not [p for p in (tmp_path / "b").iterdir() if p.name != CHECKPOINT_NAME]  # no temp files left


def test_early_stopping_and_best_restore():
    train, _ = _problem()
    calls = iter([1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1])
    snapshots = []

    def metric(model):
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        return next(calls)

    model = _model()
    result = fit(model, train, batch_mse, epochs=8, lr=0.01, val_metric=metric, patience=2, progress=False)
    assert result.stopped_early and len(result.history) == 4 and result.best_epoch == 1
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, snapshots[1][key])


def test_gradient_clipping_bounds_the_step():
    x = torch.ones(4, 1) * 1e3
    data = TensorDataset(x, torch.zeros(4))
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.constant_(model.weight, 1.0)

    def opt(m):
        return torch.optim.SGD(m.parameters(), lr=1.0)

    fit(model, data, batch_mse, epochs=1, batch_size=4, optimizer=opt, grad_clip=0.5, progress=False)
    assert abs(model.weight.item() - 0.5) < 1e-6


def test_bad_arguments():
    train, _ = _problem()
    with pytest.raises(ValueError, match="patience"):
        fit(_model(), train, batch_mse, patience=2, progress=False)
    with pytest.raises(ValueError, match="checkpoint_dir"):
        fit(_model(), train, batch_mse, resume=True, progress=False)
    with pytest.raises(ValueError, match="empty"):
        fit(_model(), TensorDataset(torch.zeros(0, 5), torch.zeros(0)), batch_mse, progress=False)
    with pytest.raises(FloatingPointError, match="loss became"):
        fit(_model(), train, lambda m, b: torch.tensor(float("nan"), requires_grad=True), progress=False)
