"""``FoveatedTexture``: NeuroFovea's localized AdaIN with eccentricity-dependent pooling windows.

In each pooling window (:mod:`cogvision.foveation.geometry`) noise features take the window's
per-channel mean and standard deviation of the image features (AdaIN) and are blended with the image
features by ``alpha = tanh(1.281 r / 2)`` (``r``: the window's radius in degrees; 0 in the fovea), then
inverted back to pixels (Deza, Jonnalagadda & Eckstein 2019; Deza & Konkle 2020).

Two feature spaces:

- default: an opponent-colour steerable pyramid (:mod:`cogvision.texture`), exactly invertible and
  without weights, statistics of every band at every scale;
- faithful: NeuroFovea's VGG-19 relu4_1 encoder and decoder from local files
  (:func:`cogvision.foveation.adain.load_adain_pair`).

Differences from NeuroFovea's loop (documented in ``docs/foveation.md``): windows are soft ``cos**2``
windows that blend where they overlap (NeuroFovea binarises masks and the last region written wins),
and all windows are processed at once as a weight matrix.

>>> import torch
>>> from cogvision.foveation import FoveatedTexture
>>> system = FoveatedTexture(scaling=0.4)
>>> out = system(torch.rand(2, 3, 128, 128))
>>> out.shape
torch.Size([2, 3, 128, 128])
"""

from __future__ import annotations

import torch
from torch import nn

from cogvision.foveation.geometry import (
    DEFAULT_FOV_DEG,
    PoolingWindows,
    eccentricity_map,
    fovea_weight,
    parse_fixation,
    pooling_windows,
)
from cogvision.texture import SteerablePyramid, WindowedTexture, check_images
from cogvision.texture.synthesis import pooling_factor


class FoveatedSystem(nn.Module):
    """Shared geometry of the foveated front-ends: fixation, field of view, windows per image size.

    Parameters
    ----------
    scaling
        Window size / eccentricity (0.4 in Emergent Properties); must be positive.
    fixation
        (x, y) in pixels of the input image; ``None`` = centre.
    fov_deg
        Degrees spanned by the image width (26 as NeuroFovea).
    fovea_deg
        Radius of the intact fovea in degrees.
    """

    def __init__(self, scaling: float = 0.4, *, fixation: tuple[float, float] | None = None,
                 fov_deg: float = DEFAULT_FOV_DEG, fovea_deg: float = 1.0) -> None:
        super().__init__()
        if not isinstance(scaling, (int, float)) or scaling <= 0:
            raise ValueError(f"scaling must be a positive number (0.4 in the paper), got {scaling!r}")
        if fov_deg <= 0:
            raise ValueError(f"fov_deg must be positive, got {fov_deg}")
        self.scaling = float(scaling)
        self.fixation = None if fixation is None else (float(fixation[0]), float(fixation[1]))
        self.fov_deg = float(fov_deg)
        self.fovea_deg = float(fovea_deg)

    def windows_for(self, height: int, width: int, grid: tuple[int, int] | None = None) -> PoolingWindows:
        """Pooling windows for an image of (height, width), optionally sampled on a coarser ``grid``."""
        fx, fy = parse_fixation(self.fixation, height, width)
        gh, gw = grid if grid is not None else (height, width)
        scale_x, scale_y = gw / width, gh / height
        fixation = (min(max((fx + 0.5) * scale_x - 0.5, 0.0), gw - 1.0),
                    min(max((fy + 0.5) * scale_y - 0.5, 0.0), gh - 1.0))
        return pooling_windows(gh, gw, self.scaling, fixation=fixation, fov_deg=self.fov_deg,
                               fovea_deg=self.fovea_deg)

    def extra_repr(self) -> str:
        """The parameters shown in the module's repr."""
        return (f"scaling={self.scaling}, fixation={self.fixation}, fov_deg={self.fov_deg}, "
                f"fovea_deg={self.fovea_deg}")


class FoveatedTexture(FoveatedSystem):
    """Foveated texture transform of (B, 3, H, W) images in [0, 1] (see module docs).

    Parameters
    ----------
    scaling, fixation, fov_deg, fovea_deg
        See :class:`FoveatedSystem`.
    seed
        Noise seed: the same seed gives the same output (as pre-rendered images); ``None`` draws fresh
        noise from torch's global generator on every call (on-the-fly augmentation).
    stat_size
        Side of the grid on which windows and their statistics live (default 64, the relu4_1 map of
        NeuroFovea's 512 px input); ``None`` runs every pyramid band at full resolution (slow, exact).
    n_orientations, n_scales
        Steerable pyramid of the default feature space.
    encoder, decoder
        Faithful option: modules mapping images to features and back (e.g. from
        :func:`cogvision.foveation.adain.load_adain_pair`); both or neither.
    keep_fovea
        Blend the input back in with the foveal window's weight, so the fovea is exactly the input
        (band filters and decoders otherwise leak peripheral texture a few pixels into it).
    """

    def __init__(self, scaling: float = 0.4, *, fixation: tuple[float, float] | None = None,
                 fov_deg: float = DEFAULT_FOV_DEG, fovea_deg: float = 1.0, seed: int | None = 0,
                 stat_size: int | None = 64, n_orientations: int = 4, n_scales: int | None = None,
                 encoder: nn.Module | None = None, decoder: nn.Module | None = None, keep_fovea: bool = True) -> None:
        super().__init__(scaling, fixation=fixation, fov_deg=fov_deg, fovea_deg=fovea_deg)
        if (encoder is None) != (decoder is None):
            raise ValueError("pass both encoder and decoder (the faithful VGG option) or neither")
        self.seed = seed
        self.stat_size = stat_size
        self.pyramid = SteerablePyramid(n_scales=n_scales, n_orientations=n_orientations)
        self.encoder, self.decoder = encoder, decoder
        self.keep_fovea = keep_fovea
        self._textures: dict = {}

    def _texture(self, height: int, width: int, device: torch.device) -> tuple[WindowedTexture, torch.Tensor]:
        key = (height, width, str(device))
        if key not in self._textures:
            factor = pooling_factor(height, width, self.stat_size)
            grid = (height // factor, width // factor)
            windows = self.windows_for(height, width, grid)
            texture = WindowedTexture(windows.weights, windows.alpha, pyramid=self.pyramid,
                                      stat_size=self.stat_size).to(device)
            ecc, _ = eccentricity_map(height, width, self.fixation, self.fov_deg)
            fovea = fovea_weight(ecc, self.scaling, self.fovea_deg).to(device)
            self._textures[key] = (texture, fovea)
        return self._textures[key]

    def _generator(self) -> torch.Generator | None:
        # a CPU generator: one seed gives the same noise on every device
        return None if self.seed is None else torch.Generator().manual_seed(int(self.seed))

    def white_noise(self, shape: torch.Size, index: torch.Tensor | list[int]) -> torch.Tensor:
        """(B, C, H, W) white noise, image ``b`` drawn from ``seed + index[b]`` (on the CPU: device-independent)."""
        base = 0 if self.seed is None else int(self.seed)
        index = [int(i) for i in index]
        if len(index) != shape[0]:
            raise ValueError(f"index has {len(index)} entries for a batch of {shape[0]} images")
        return torch.stack([torch.randn(tuple(shape[1:]), generator=torch.Generator().manual_seed(base + i))
                            for i in index])

    def forward(self, images: torch.Tensor, index: torch.Tensor | list[int] | None = None) -> torch.Tensor:
        """Transform (B, 3, H, W) images in [0, 1]; returns the same shape, differentiable.

        ``index`` (B,) gives each image its own noise, seeded by ``seed + index[b]`` (a dataset rendered
        with its image indices gets fresh noise for every image, whatever the batching); without it every
        batch position reuses the noise of ``seed`` (a fixed function of the image, and the fastest).
        """
        check_images(images)
        height, width = images.shape[-2:]
        texture, fovea = self._texture(height, width, images.device)
        white = None if index is None else self.white_noise(images.shape, index)
        if self.encoder is None:
            # an integer seed lets the texture cache the noise and its window statistics
            seed = self.seed if self.seed is not None else int(torch.randint(0, 2**62, (1,)))
            out = texture(images, seed=seed, white=white)
        else:
            out = self._encoder_texture(images, texture, white)
        if self.keep_fovea:
            out = out.lerp_(images, fovea)  # images * fovea + out * (1 - fovea), in place
        return out

    def _encoder_texture(self, images: torch.Tensor, texture: WindowedTexture,
                         white: torch.Tensor | None = None) -> torch.Tensor:
        """NeuroFovea's path: encode image and colour-matched noise, mix relu4_1 features, decode."""
        if images.shape[-1] % 8 or images.shape[-2] % 8:
            raise ValueError(f"the VGG encoder needs height and width divisible by 8, got {tuple(images.shape[-2:])}")
        mean = images.mean(dim=(2, 3), keepdim=True)
        std = images.std(dim=(2, 3), keepdim=True)
        noise = torch.randn(images.shape, generator=self._generator()) if white is None else white
        noise = noise.to(images.device)
        noise = (mean + std * noise).clamp(0, 1)  # noise with the image's colour mean and spread
        features = self.encoder(torch.cat([images, noise]))[:, :, None]
        mixed = texture.mix(features[: len(images)], features[len(images):])[:, :, 0]
        return self.decoder(mixed).clamp(0, 1)


class Reference(nn.Module):
    """The reference system: identity, or the encoder-decoder round trip when both are given."""

    def __init__(self, encoder: nn.Module | None = None, decoder: nn.Module | None = None) -> None:
        super().__init__()
        if (encoder is None) != (decoder is None):
            raise ValueError("pass both encoder and decoder or neither")
        self.encoder, self.decoder = encoder, decoder

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Return ``images`` (B, 3, H, W), decoded from the encoder's features when an encoder is set."""
        check_images(images)
        if self.encoder is None:
            return images
        return self.decoder(self.encoder(images)).clamp(0, 1)
