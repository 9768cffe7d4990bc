"""The parts of the fitting loop: EarlyStopping, LoopState (state_dict round trip), train_epoch, exact resume,
and the one way to give the optimizer."""

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from cogvision.io import read_checkpoint
from cogvision.training import (
    CHECKPOINT_NAME,
    EarlyStopping,
    LoopState,
    default_optimizer,
    fit,
    train_epoch,
)
from tests.helpers import batch_mse, regression_problem, small_mlp

CPU = torch.device("cpu")


def _problem():
    return regression_problem(seed=2, n=48, noise=0.2, n_val=16)


def _model():
    return small_mlp(seed=4, hidden=8, dropout=0.3)


def _state(model):
    opt = default_optimizer(0.05)(model)
    return LoopState(model, opt, torch.optim.lr_scheduler.StepLR(opt, 1, 0.5),
                     torch.amp.GradScaler("cuda", enabled=False), EarlyStopping("min", 3))


def _same_weights(a, b):
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb
        torch.testing.assert_close(va, vb, rtol=0, atol=0)


@pytest.mark.parametrize("mode, values, best, best_epoch, stops_after", [
    ("min", [3.0, 2.0, 2.5, 2.1, 1.0], 2.0, 1, 3),
    ("max", [0.1, 0.3, 0.2, 0.3, 0.05], 0.3, 1, 3),  # a tie is not an improvement
    ("min", [5.0, 4.0, 3.0, 2.0, 1.0], 1.0, 4, None),
])
def test_early_stopping_tracks_the_best_and_the_patience(mode, values, best, best_epoch, stops_after):
    stopper = EarlyStopping(mode, patience=2)
    stopped = None
    for epoch, value in enumerate(values):
        stopper.update(value, epoch)
        if stopper.should_stop and stopped is None:
            stopped = epoch
            break
    assert (stopper.best, stopper.best_epoch, stopped) == (best, best_epoch, stops_after)
    again = EarlyStopping(mode, patience=2)
    again.load_state_dict(stopper.state_dict())
    assert again == stopper


def test_early_stopping_without_values_keeps_the_last_epoch_and_never_stops():
    stopper = EarlyStopping(patience=1)
    assert all(stopper.update(None, epoch) for epoch in range(4))
    assert (stopper.best, stopper.best_epoch, stopper.should_stop) == (None, 3, False)


@pytest.mark.parametrize("kwargs, message", [({"mode": "lowest"}, "mode must be one of"),
                                             ({"patience": 0}, "patience must be >= 1")])
def test_early_stopping_refuses_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EarlyStopping(**kwargs)


def test_train_epoch_steps_once_per_batch_and_returns_the_mean_loss():
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.constant_(model.weight, 0.0)
    data = TensorDataset(torch.ones(4, 1), torch.ones(4))
    opt = torch.optim.SGD(model.parameters(), lr=0.25)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    mean = train_epoch(model, DataLoader(data, batch_size=2), batch_mse, opt, scaler, device=CPU)
    # batch 1: w=0, loss 1, grad -2 -> w=0.5; batch 2: loss 0.25, grad -1 -> w=0.75
    assert mean == pytest.approx((1.0 + 0.25) / 2)
    assert model.weight.item() == pytest.approx(0.75)
    assert model.training


def test_loop_state_round_trip_restores_every_part():
    train, val = _problem()
    source = _state(_model())
    for epoch in range(2):
        loss = train_epoch(source.model, DataLoader(train, batch_size=16), batch_mse, source.optimizer, source.scaler,
                           device=CPU, epoch=epoch)
        source.scheduler.step()
        with torch.no_grad():
            value = val(source.model)
        source.end_epoch({"epoch": epoch, "train_loss": loss, "val_metric": value}, validated=True)
    saved = source.state_dict()
    # the keys of the checkpoints written before LoopState existed, so that those still resume
    assert set(saved) == {"model", "optimizer", "scheduler", "scaler", "history", "epoch", "best_metric", "best_epoch",
                          "best_state", "bad_epochs", "rng", "stopped_early"}
    assert saved["epoch"] == 1  # the last completed epoch
    after_save = torch.rand(3)  # the random generators move on...
    target = _state(_model())
    target.load_state_dict(saved)  # ... and come back with the state
    assert torch.equal(torch.rand(3), after_save)
    _same_weights(source.model, target.model)
    assert target.epoch == source.epoch == 2 and target.history == source.history
    assert target.stopper == source.stopper and target.scheduler.get_last_lr() == source.scheduler.get_last_lr()
    assert target.optimizer.state_dict()["state"][0]["step"] == source.optimizer.state_dict()["state"][0]["step"]
    assert target.best_state.keys() == source.best_state.keys()


@pytest.mark.parametrize("interrupt_after", [1, 2, 4])
def test_resume_after_any_epoch_reproduces_the_uninterrupted_fit(tmp_path, interrupt_after):
    train, val = _problem()
    kw = {"batch_size": 8, "lr": 0.03, "weight_decay": 0.01, "val_metric": val, "patience": 3, "grad_clip": 2.0,
          "seed": 6, "scheduler": lambda o: torch.optim.lr_scheduler.StepLR(o, 2, 0.7), "progress": False}
    full = _model()
    ref = fit(full, train, batch_mse, epochs=6, checkpoint_dir=tmp_path / "full", **kw)
    fit(_model(), train, batch_mse, epochs=interrupt_after, checkpoint_dir=tmp_path / "part", **kw)
    resumed = _model()
    out = fit(resumed, train, batch_mse, epochs=6, checkpoint_dir=tmp_path / "part", resume=True, **kw)
    columns = ["epoch", "train_loss", "val_metric", "lr"]
    assert out.history[columns].equals(ref.history[columns])
    assert (out.best_epoch, out.best_metric, out.stopped_early) == (ref.best_epoch, ref.best_metric, ref.stopped_early)
    _same_weights(full, resumed)


def test_resuming_a_fit_that_stopped_early_returns_its_result(tmp_path):
    train, _ = _problem()
    values = iter([1.0, 0.5, 0.9, 0.8])
    kw = {"epochs": 8, "lr": 0.01, "val_metric": lambda m: next(values), "patience": 2, "progress": False,
              "checkpoint_dir": tmp_path}
    first_model = _model()
    first = fit(first_model, train, batch_mse, **kw)
    assert first.stopped_early and len(first.history) == 4
    again_model = _model()
    again = fit(again_model, train, batch_mse, resume=True, **kw)  # no epoch runs: the metric is not called again
    assert again.stopped_early and again.best_epoch == first.best_epoch == 1
    assert again.history.drop(columns="seconds").equals(first.history.drop(columns="seconds"))
    _same_weights(first_model, again_model)  # both restored to epoch 1
    assert read_checkpoint(tmp_path / CHECKPOINT_NAME)["epoch"] == 3


@pytest.mark.parametrize("extra, named", [({"lr": 0.1}, "lr="), ({"weight_decay": 0.0}, "weight_decay="),
                                          ({"lr": 0.1, "weight_decay": 0.1}, "lr, weight_decay=")])
def test_optimizer_and_default_optimizer_settings_together_are_an_error(extra, named):
    train, _ = _problem()
    with pytest.raises(ValueError, match=f"both optimizer= and {named}"):
        fit(_model(), train, batch_mse, optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=0.1), progress=False,
            **extra)


def test_default_optimizer_is_adamw_over_trainable_parameters():
    model = _model()
    model[0].weight.requires_grad_(False)
    opt = default_optimizer(0.2, 0.01)(model)
    assert isinstance(opt, torch.optim.AdamW)
    assert opt.param_groups[0]["lr"] == 0.2 and opt.param_groups[0]["weight_decay"] == 0.01
    assert sum(p.numel() for p in opt.param_groups[0]["params"]) == sum(
        p.numel() for p in model.parameters() if p.requires_grad)
    assert default_optimizer()(model).param_groups[0]["lr"] == 1e-3
