"""OAT: the Object-level Attention Transformer for visual-search scanpaths (Fang et al., ECCV 2024), as an estimator.

A scanpath is a sequence of object indices. The network (:mod:`cogvision.scanpath.oat_network`) encodes one
token per object plus one target token and points at the next object, or at the target token to stop; its
inputs are built by :mod:`cogvision.scanpath.oat_batch`. This module holds the scikit-learn estimator: it is
trained with teacher-forced cross-entropy through :func:`cogvision.training.fit`, early-stopped on the
behavioural delta of scanpaths decoded on a validation set (``val_samples`` seeded samples per trial, or the
greedy one), decodes scanpaths (greedy or sampled) and, as a
:class:`~cogvision.scanpath.density.ScanpathDensityModel`, gives the teacher-forced next-object distribution
that likelihood metrics score (:mod:`cogvision.scanpath.metrics.hsp`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator

from cogvision._docs import fill_doc
from cogvision.device import resolve_device
from cogvision.io import read_checkpoint
from cogvision.scanpath.containers import ScanpathSet, Scene, prediction_frame
from cogvision.scanpath.density import ScanpathDensityModel
from cogvision.scanpath.density_baselines import saccade_histogram
from cogvision.scanpath.metrics.behaviour import behaviour_delta, behaviour_summary
from cogvision.scanpath.oat_batch import EOS, IGNORE, OATBatch, SceneInputs, collate, scene_inputs
from cogvision.scanpath.oat_network import OATConfig, OATNetwork
from cogvision.training import atomic_torch_save, fit, seed_everything


def _oat_loss(model: OATNetwork, batch: OATBatch) -> torch.Tensor:
    logits = model(batch)
    return F.cross_entropy(logits.flatten(0, 1).float(), batch.dec_out.flatten(), ignore_index=IGNORE)


class _Items(torch.utils.data.Dataset):
    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


@fill_doc
class OAT(BaseEstimator, ScanpathDensityModel):
    """Object-level Attention Transformer as a scikit-learn estimator.

    Parameters
    ----------
    d_model, n_heads, n_layers, ffn, dropout, pointer_heads
        Architecture (paper: 512, 4, 4, 512, 0.1, 2).
    position
        ``"learned"`` (the paper's Gaussian-similarity table) or ``"sinusoidal"``.
    sigma, pe_iterations
        Width and fitting iterations of the learned table.
    appearance
        How an object looks to the encoder: ``"label"`` (an embedding of its label), ``"crop"`` (the paper's
        CNN on its image crop), ``"features"`` (a linear map of the scene's given ``features``, e.g. a
        pretrained CNN's map pooled over each object) or ``"auto"``: features when every training scene has
        them, else crops when every scene has an image, else labels.
    relative_bias
        Add a learned bias to every object's pointer logit by its grid offset from the current fixation (a
        relative-position bias, as in T5 or Swin; not in the paper, whose pointer sees positions only through
        the tokens). On a dense grid of cells (Interiors: 768) it lets the model learn how far people move
        from one fixation to the next directly. It starts from the log of the training scanpaths' smoothed
        saccade-vector distribution (:func:`~cogvision.scanpath.density_baselines.saccade_histogram`, centred),
        which a few hundred Adam steps could not learn from zero, and is trained with the rest.
    epochs, batch_size, lr, weight_decay, grad_clip, patience
        Training (paper: up to 500 epochs, batch 20, Adam lr 1e-4, clip 1.0, patience 30 on the delta).
    scenes_per_batch
        ``None``: a batch is ``batch_size`` scanpaths drawn at random. A number: a batch is that many scenes
        with all their scanpaths, so that the encoder runs once per scene (much faster when a scene has many
        objects and many subjects, as Interiors' 768 cells and 57 subjects); ``batch_size`` is then unused.
    max_len
        Longest decoded scanpath (default: the longest training scanpath).
    val_samples
        Scanpaths sampled per validation trial (with a fixed seed) for the early-stopping delta; 0 uses
        the greedy scanpath (one per trial, a much noisier estimate).
    warmup_epochs
        Epochs trained before early stopping starts watching the delta (0, the paper's protocol, watches
        from the first epoch). A barely trained model samples long, near-random scanpaths whose summary
        statistics can match the humans' by chance, so with short training budgets the delta would
        otherwise select an untrained model. These epochs count towards ``epochs``.
    early_stopping
        What the validation set is watched on: ``"delta"`` (the paper's behavioural delta of decoded
        scanpaths) or ``"nll"`` (the teacher-forced negative log-likelihood of the validation scanpaths per
        step, the metric likelihood-based evaluation rewards).
    %(device)s
    seed
        Seed of initialisation, batch order and sampling.
    progress
        Show a progress bar while fitting.
    """

    def __init__(self, d_model: int = 512, n_heads: int = 4, n_layers: int = 4, ffn: int = 512, dropout: float = 0.1,
                 pointer_heads: int = 2, position: str = "learned", sigma: float = 2.0, pe_iterations: int = 10_000,
                 appearance: str = "auto", relative_bias: bool = False, epochs: int = 500, batch_size: int = 20,
                 lr: float = 1e-4,
                 weight_decay: float = 0.0, grad_clip: float | None = 1.0, patience: int | None = 30,
                 scenes_per_batch: int | None = None, max_len: int | None = None, val_samples: int = 10,
                 warmup_epochs: int = 0, early_stopping: str = "delta", device: str = "auto", seed: int = 1234,
                 progress: bool = False):
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.ffn = ffn
        self.dropout = dropout
        self.pointer_heads = pointer_heads
        self.position = position
        self.sigma = sigma
        self.pe_iterations = pe_iterations
        self.appearance = appearance
        self.relative_bias = relative_bias
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.patience = patience
        self.scenes_per_batch = scenes_per_batch
        self.max_len = max_len
        self.val_samples = val_samples
        self.warmup_epochs = warmup_epochs
        self.early_stopping = early_stopping
        self.device = device
        self.seed = seed
        self.progress = progress

    # ----------------------------------------------------------------- data
    def _check(self, data: ScanpathSet, what: str) -> None:
        if not isinstance(data, ScanpathSet):
            raise ValueError(f"{what} must be a ScanpathSet, got {type(data).__name__}")
        no_target = [t for t, s in data.scenes.items() if s.target < 0]
        if no_target:
            raise ValueError(f"{what}: trial {no_target[0]!r} has no search target; OAT models visual search")

    def _scene_items(self, scenes: Sequence[Scene]) -> list[SceneInputs]:
        for s in scenes:
            if max(s.grid_shape) > self.config_.n_positions:
                raise ValueError(f"trial {s.trial!r}: grid {s.grid_shape} is larger than the "
                                 f"{self.config_.n_positions} "
                                 "positions this model was trained with")
            if self.config_.appearance == "features" and s.features is not None \
                    and np.shape(s.features)[1] != self.config_.feature_dim:
                raise ValueError(f"trial {s.trial!r}: features have {np.shape(s.features)[1]} dimensions, the model "
                                 f"was trained with {self.config_.feature_dim}")
        return [scene_inputs(s, self.vocab_, self.config_.appearance) for s in scenes]

    def _training_items(self, data: ScanpathSet) -> list:
        inputs = dict(zip(data.trials, self._scene_items([data.scenes[t] for t in data.trials])))
        by_trial: dict[str, list[np.ndarray]] = {}
        for trial, subject, seq in data.sequences():
            if len(seq) == 0:
                raise ValueError(f"trial {trial!r}, subject {subject!r}: no fixation on any object (empty scanpath)")
            by_trial.setdefault(trial, []).append(seq[: self.max_len_])
        if self.scenes_per_batch:
            return [(inputs[t], seqs) for t, seqs in by_trial.items()]
        return [(inputs[t], seq) for t, seqs in by_trial.items() for seq in seqs]

    def _appearance(self, scenes: Sequence[Scene]) -> str:
        if self.appearance == "auto":
            if all(s.features is not None for s in scenes):
                return "features"
            return "crop" if all(s.image is not None for s in scenes) else "label"
        if self.appearance == "crop" and not all(s.image is not None for s in scenes):
            raise ValueError("appearance='crop' but some training scenes carry no image")
        if self.appearance == "features" and not all(s.features is not None for s in scenes):
            raise ValueError("appearance='features' but some training scenes carry no features")
        if self.appearance not in ("label", "crop", "features"):
            raise ValueError(f"appearance must be 'auto', 'label', 'crop' or 'features', got {self.appearance!r}")
        return self.appearance

    # ----------------------------------------------------------------- fit
    def fit(self, train: ScanpathSet, val: ScanpathSet | None = None, checkpoint_dir: str | os.PathLike | None = None,
            resume: bool = False) -> OAT:
        """Train on ``train``; with ``val``, early-stop on ``early_stopping`` measured on ``val``.

        Returns
        -------
        self
        """
        self._check(train, "train")
        if len(train) == 0:
            raise ValueError("train has no scanpaths")
        if self.early_stopping not in ("delta", "nll"):
            raise ValueError(f"early_stopping must be 'delta' or 'nll', got {self.early_stopping!r}")
        if val is not None and len(val) == 0:
            val = None
        if val is not None:
            self._check(val, "val")
        scenes = list(train.scenes.values())
        labels = sorted({lab for s in scenes for lab in s.labels} | {s.target_label for s in scenes})
        self.vocab_ = {lab: i + 1 for i, lab in enumerate(labels)}  # 0: unseen label
        appearance = self._appearance(scenes)
        lengths = [len(s) for *_, s in train.sequences()]
        self.max_len_ = int(self.max_len or max(lengths))
        n_positions = max(max(max(s.grid_shape) for s in scenes), 2)
        if val is not None:
            n_positions = max(n_positions, max(max(s.grid_shape) for s in val.scenes.values()))
        feature_dim = int(np.shape(scenes[0].features)[1]) if appearance == "features" else 0
        self.config_ = OATConfig(len(self.vocab_) + 1, n_positions, self.d_model, self.n_heads, self.n_layers, self.ffn,
                                 self.dropout, self.pointer_heads, self.position, self.sigma, self.pe_iterations,
                                 appearance, feature_dim, max(self.max_len_, 1) + 1, self.relative_bias)
        seed_everything(self.seed)
        self.network_ = OATNetwork(self.config_)
        if self.relative_bias:
            prior = np.log(saccade_histogram(train, (n_positions, n_positions), sigma=1.0))
            with torch.no_grad():
                self.network_.rel_bias.copy_(torch.as_tensor(prior - prior.mean(), dtype=torch.float32))
        metric = None
        if val is not None and len(val):
            metric = self._delta_metric(val) if self.early_stopping == "delta" else self._nll_metric(val)

        items = _Items(self._training_items(train))
        per_batch = self.scenes_per_batch or self.batch_size
        common = dict(batch_size=per_batch,
                      optimizer=lambda m: torch.optim.Adam(m.parameters(), lr=self.lr, weight_decay=self.weight_decay),
                      grad_clip=self.grad_clip, collate_fn=collate, device=self.device, progress=self.progress)
        warmup = min(self.warmup_epochs, self.epochs - 1) if metric is not None else 0
        histories = []
        if warmup > 0:
            first = fit(self.network_, items, _oat_loss, epochs=warmup, seed=self.seed, resume=resume,
                        checkpoint_dir=Path(checkpoint_dir) / "warmup" if checkpoint_dir is not None else None,
                        **common)
            histories.append(first.history)
        result = fit(self.network_, items, _oat_loss, epochs=self.epochs - warmup, val_metric=metric, mode="min",
                     patience=self.patience if metric is not None else None, seed=self.seed + warmup, resume=resume,
                     checkpoint_dir=Path(checkpoint_dir) / "main" if checkpoint_dir is not None else None, **common)
        history = result.history.assign(epoch=result.history["epoch"] + warmup)
        self.history_ = pd.concat(histories + [history], ignore_index=True)
        self.best_epoch_ = result.best_epoch + warmup
        self.best_delta_ = result.best_metric if self.early_stopping == "delta" else None
        self.best_val_metric_ = result.best_metric
        self.network_.eval()
        return self

    def _delta_metric(self, val: ScanpathSet):
        seqs = val.sequences()
        human = behaviour_summary([s for *_, s in seqs], [val.scenes[t].target for t, *_ in seqs])
        zero = [k for k, v in human.items() if not v > 0]
        if zero:
            raise ValueError(f"val: the behavioural delta cannot select an epoch: the validation scanpaths' "
                             f"{', '.join(zero)} is 0, so any model with a non-zero value scores inf (e.g. scanpaths "
                             "of one fixation, or too few validation scanpaths); use early_stopping='nll' or more "
                             "validation data")
        val_trials = val.trials

        def metric(model):
            pred = self._decode_sequences(model, [val.scenes[t] for t in val_trials], self.val_samples)
            targets = [val.scenes[t].target for t in val_trials for _ in range(max(self.val_samples, 1))]
            return behaviour_delta(behaviour_summary(pred, targets), human)

        return metric

    def _nll_metric(self, val: ScanpathSet):
        def metric(model):
            return -float(self._log_likelihood(model, val)["log_prob"].mean())

        return metric

    # ----------------------------------------------------------------- decoding
    def _decode_sequences(self, model: OATNetwork, scenes: Sequence[Scene], n_samples: int,
                          batch_size: int | None = None) -> list[np.ndarray]:
        """Greedy (``n_samples=0``) or ``n_samples`` seeded sampled scanpaths per scene (object indices).

        ``batch_size`` scanpaths are decoded together; by default 256 when greedy (the fastest on CPU) and 512
        when sampling (the batches decide which random numbers each scanpath draws, so they stay the size the
        seeded samples have always been drawn with).
        """
        dev = next(model.parameters()).device
        items = self._scene_items(scenes)
        repeats = max(n_samples, 1)
        batch_size = batch_size or (512 if n_samples else 256)
        generator = torch.Generator().manual_seed(self.seed)
        out: list[np.ndarray] = []
        was_training = model.training
        model.eval()
        per_batch = max(batch_size // repeats, 1)
        for start in range(0, len(items), per_batch):
            batch = collate([(item, None) for item in items[start:start + per_batch]]).to(dev)
            ptr = model.generate(batch, self.max_len_, sample=n_samples > 0, generator=generator,
                                 repeats=repeats).cpu().numpy()
            ended = ptr == EOS
            lengths = np.where(ended.any(1), ended.argmax(1), ptr.shape[1])
            out.extend(row[:k] - 1 for row, k in zip(ptr, lengths))
        model.train(was_training)
        return out

    def _trained(self) -> None:
        if not hasattr(self, "network_"):
            raise ValueError("this OAT is not fitted yet; call fit() or OAT.load()")

    def predict(self, data: ScanpathSet | Sequence[Scene], n_samples: int = 0) -> pd.DataFrame:
        """Predicted scanpaths: greedy (``n_samples=0``) or ``n_samples`` sampled ones per trial (seeded).

        Returns
        -------
        DataFrame
            Columns ``trial, sample, fixation, object, x, y`` (x, y: object box centres).
        """
        self._trained()
        scenes = [data.scenes[t] for t in data.trials] if isinstance(data, ScanpathSet) else list(data)
        for s in scenes:
            if s.target < 0:
                raise ValueError(f"trial {s.trial!r} has no search target")
        return prediction_frame(scenes, self._decode_sequences(self.network_, scenes, n_samples), max(n_samples, 1))

    @torch.no_grad()
    def _log_likelihood(self, model: OATNetwork, data: ScanpathSet) -> pd.DataFrame:
        was_training = model.training
        model.eval()
        dev = next(model.parameters()).device
        inputs = dict(zip(data.trials, self._scene_items([data.scenes[t] for t in data.trials])))
        seqs = [(t, subj, s) for t, subj, s in data.sequences() if len(s)]
        frames = []
        for start in range(0, len(seqs), 256):
            chunk = seqs[start:start + 256]
            batch = collate([(inputs[t], s) for t, _, s in chunk]).to(dev)
            logp = torch.log_softmax(model(batch).float(), -1)
            picked = logp.gather(-1, batch.dec_out.clamp(min=0)[..., None]).squeeze(-1).cpu().numpy()
            for k, (trial, subject, seq) in enumerate(chunk):
                n = len(seq) + 1
                frames.append(pd.DataFrame({"trial": trial, "subject": subject, "step": np.arange(n),
                                            "object": np.append(seq, -1), "log_prob": picked[k, :n]}))
        model.train(was_training)
        return pd.concat(frames, ignore_index=True)

    def log_likelihood(self, data: ScanpathSet) -> pd.DataFrame:
        """Exact per-step log-probabilities of the human scanpaths under the model (teacher forcing).

        Returns
        -------
        DataFrame
            Columns ``trial, subject, step, object, log_prob``; the last step of each scanpath is the stop
            decision (``object == -1``: the model points at the target token).
        """
        self._trained()
        self._check(data, "data")
        return self._log_likelihood(self.network_, data)

    def score(self, data: ScanpathSet) -> float:
        """Mean log-likelihood per step (nats) of the human scanpaths in ``data``; higher is better."""
        return float(self.log_likelihood(data)["log_prob"].mean())

    # ----------------------------------------------------------------- densities
    @torch.no_grad()
    def log_density_sequences(self, scene: Scene, sequences: Sequence[np.ndarray],
                              subjects: Sequence[str] | None = None) -> list[np.ndarray]:
        """Next-object log-densities along each scanpath, from one teacher-forced pass.

        Step ``i`` (``1 <= i < len(seq)``) is the pointer distribution after ``BOS, seq[0], .., seq[i-1]``,
        with the stop choice (the target token) left out and the rest renormalised: where the next fixation
        goes, given that there is one. Returns one ``(len(seq) - 1, n_objects)`` array per scanpath.
        """
        self._trained()
        model = self.network_.eval()
        dev = next(model.parameters()).device
        item = self._scene_items([scene])[0]
        out = []
        for start in range(0, len(sequences), 256):
            chunk = [np.asarray(s, np.int64) for s in sequences[start:start + 256]]
            batch = collate([(item, chunk)]).to(dev)
            logits = model(batch).float()[:, 1:, 1:1 + scene.n_objects]
            logp = torch.log_softmax(logits, -1).cpu().numpy().astype(float)
            out.extend(logp[k, :max(len(s) - 1, 0)] for k, s in enumerate(chunk))
        return out

    def conditional_log_density(self, scene: Scene, history: np.ndarray, subject: str | None = None) -> np.ndarray:
        """Log-density ``(n_objects,)`` of the next object after the fixated objects ``history`` (length >= 1)."""
        history = np.asarray(history, np.int64)
        if len(history) == 0:
            raise ValueError("history must hold at least the initial fixation")
        return self.log_density_sequences(scene, [np.append(history, 0)])[0][-1]

    # ----------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted model to one file (atomically): config, vocabulary and weights."""
        self._trained()
        atomic_torch_save({"config": json.dumps(asdict(self.config_)), "vocab": json.dumps(self.vocab_),
                           "params": json.dumps(self.get_params()), "max_len": self.max_len_,
                           "state": self.network_.state_dict()}, path)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "auto") -> OAT:
        """Read a model written by :meth:`save` (weights only; no code is unpickled)."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"OAT model file {path} does not exist")
        blob = read_checkpoint(path, "OAT model file")
        try:
            model = cls(**json.loads(blob["params"]))
            model.config_ = OATConfig(**json.loads(blob["config"]))
            model.vocab_ = json.loads(blob["vocab"])
            model.max_len_ = int(blob["max_len"])
            model.network_ = OATNetwork(model.config_)
            model.network_.load_state_dict(blob["state"])
        except (KeyError, TypeError, RuntimeError, EOFError, ValueError) as err:
            raise ValueError(f"{path} is not an OAT model written by this version of cogvision ({err})") from err
        model.network_.to(resolve_device(device)).eval()
        return model
