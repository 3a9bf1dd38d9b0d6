"""The AR1 model's internal units and training rows: :meth:`InternalUnits._build` (the
normalisation of features and outputs, the fixed noise and the levels, from the data) and the
conversions to normalised features, standardised outputs, level weights and noise.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn

from mfgp.exceptions import InputDataError, MFGPWarning
from mfgp.models.ar1.koh import koh_weights
from mfgp.models.ar1.level import _Level


class InternalUnits:
    """Mixin of :class:`~mfgp.models.ar1.AR1MultiFidelityGP`: building from the data and the
    internal units."""

    def _build(self, X: Tensor, Y: Tensor, Yvar: Tensor | None) -> None:
        cfg = self.config
        d = X.shape[-1] - 1
        if d < 1:
            raise InputDataError("X needs at least one feature column before the fidelity index")
        if self.metadata.get("has_level0") and self.level0 is None:
            raise InputDataError(
                "this AR1 model was saved with a level-0 callable, which cannot be stored; pass "
                "it again: AR1MultiFidelityGP.load(path, level0=fn)"
            )
        self.metadata["has_level0"] = self.level0 is not None
        L, g0 = self.n_fidelities_, self.first_gp_level
        lev = X[:, -1].round().long()
        if g0 == 1 and bool((lev == 0).any()):
            warnings.warn(
                f"{int((lev == 0).sum())} rows have fidelity 0, which is given by the level0 "
                "callable; they are ignored",
                MFGPWarning,
                stacklevel=3,
            )
        used = lev >= g0
        for k in range(g0, L):
            if not bool((lev == k).any()):
                raise InputDataError(
                    f"fidelity level {k} has no rows: every GP level "
                    f"({g0}..{L - 1}) needs data; renumber the fidelities or drop the empty level"
                )
        for name in ("rho_features", "mean_features"):
            cols = cfg[name] if cfg[name] is not None else []
            bad = [c for c in cols if not 0 <= c < d]
            if bad:
                raise InputDataError(
                    f"{name} {bad} out of range: X has {d} feature columns (0..{d - 1}) before "
                    "the fidelity index"
                )
        Yt = Y
        if self.log_transform_:
            if bool((Y[used] <= 0).any()):
                raise InputDataError("log_transform=True needs Y > 0 in every row")
            Yt = Y.clamp_min(torch.finfo(Y.dtype).tiny).log()
        Xu, Yu = X[used, :-1], Yt[used, 0]
        lo, hi = Xu.min(0).values, Xu.max(0).values
        rng = hi - lo
        rng = torch.where(rng > 1e-12 * (1 + lo.abs()), rng, torch.ones_like(rng))
        y_mu = Yu.mean()
        y_sd = Yu.std() if Yu.numel() > 1 else torch.ones_like(y_mu)
        if not bool(y_sd > 1e-12 * (1 + y_mu.abs())):
            y_sd = torch.ones_like(y_mu)
        self.register_buffer("x_lo", lo.clone())
        self.register_buffer("x_rng", rng.clone())
        self.register_buffer("y_mu", y_mu.clone())
        self.register_buffer("y_sd", y_sd.clone())
        noise = cfg["noise"]
        learn = noise is None and Yvar is None
        fixed = torch.zeros(L, dtype=X.dtype)
        if noise is not None:
            vals = [float(noise)] * L if isinstance(noise, (int, float)) else list(noise)
            if len(vals) == L - g0 and g0 == 1:
                vals = [0.0, *vals]
            if len(vals) != L:
                raise InputDataError(
                    f"noise must be a float or a list of {L} per-level variances, got {len(vals)}"
                )
            if any(v < 0 for v in vals):
                raise InputDataError(f"noise variances must be >= 0, got {vals}")
            fixed = torch.tensor(vals, dtype=X.dtype) / y_sd.cpu() ** 2
        self.register_buffer("fixed_noise", fixed.to(X.device))
        self._misfit_levels()  # a per-level nugget list must match the levels
        mean_dims = cfg["mean_features"] if cfg["mean_features"] is not None else list(range(d))
        self.levels_ = nn.ModuleDict()
        for k in range(g0, L):
            self.levels_[str(k)] = _Level(
                kernel=self._kernel_factory(d),
                mean=cfg["delta_mean"],
                mean_dims=mean_dims,
                rho=cfg["rho"] if k >= 1 else None,
                rho_dims=cfg["rho_features"],
                learn_noise=learn,
                noise_prior=tuple(cfg.get("noise_prior", (-4.0, 1.0))),
                min_noise=cfg.get("min_noise", 1e-6),
                rho_slope_sd=cfg.get("rho_slope_sd"),
            )
            S = int(cfg.get("hyperparameter_samples", 0))
            if S:
                P = sum(p.numel() for p in self.levels_[str(k)].kernel.parameters())
                self.levels_[str(k)].register_buffer("hyper_samples", torch.zeros(S, P))
        self._cond = []
        self.to(device=X.device, dtype=X.dtype)

    # ------------------------------------------------------------ internal units
    def _z(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Normalised features ``batch x n x (d-1)`` and integer levels ``batch x n``."""
        return (X[..., :-1] - self.x_lo) / self.x_rng, X[..., -1].round().long()

    def _to_internal_y(self, Y: Tensor) -> Tensor:
        """Data-unit ``Y`` (``... x 1``) -> standardised (log) units ``...``."""
        Y = Y.squeeze(-1)
        if self.log_transform_:
            Y = Y.clamp_min(torch.finfo(Y.dtype).tiny).log()
        return (Y - self.y_mu) / self.y_sd

    def _f0(self, X: Tensor) -> Tensor:
        """Level-0 callable at ``X`` (``batch x n x d``), standardised -> ``batch x n``."""
        assert self.level0 is not None
        v = self.level0(X[..., :-1])
        if not isinstance(v, Tensor):
            v = torch.as_tensor(v, dtype=X.dtype, device=X.device)
        v = v.to(X)
        if v.shape == X.shape[:-1] + (1,):
            v = v.squeeze(-1)
        if v.shape != X.shape[:-1]:
            raise InputDataError(
                f"level0 must return a tensor of shape {tuple(X.shape[:-1])} for inputs of "
                f"shape {tuple(X[..., :-1].shape)}, got {tuple(v.shape)}"
            )
        if not bool(torch.isfinite(v).all()):
            raise InputDataError("level0 returned NaN or inf values; check its input domain")
        if self.log_transform_:
            if bool((v <= 0).any()):
                raise InputDataError("log_transform=True needs level0 to return values > 0")
            v = v.log()
        return (v - self.y_mu) / self.y_sd

    def _weights(self, z: Tensor, lev: Tensor) -> list[Tensor]:
        """``P_l(x) = prod_{m=l+1}^{lev(x)} rho_m(x)`` (0 for ``l > lev``), for l = 0..L-1."""
        return koh_weights(self.levels_, self.n_fidelities_, z, lev)

    def _noise_per_level(self) -> Tensor:
        """Learned or fixed noise variance of each level (``L``, standardised units)."""
        vals = list(self.fixed_noise.unbind())
        for k in range(self.first_gp_level, self.n_fidelities_):
            nz = self.levels_[str(k)].noise()
            if nz is not None:
                vals[k] = nz.reshape(())
        return torch.stack(vals)

    def _level_noise(self) -> Tensor:
        """Noise variance (``L``, standardised units) of a *new* observation at each level: the
        level noise plus, with a per-row ``Yvar``, the level's mean ``Yvar``."""
        out = self._noise_per_level()
        if self.train_Yvar_ is not None:
            lev = self.train_X_[:, -1].round().long()
            yv = self._yvar_internal()
            extra = [
                yv[lev == k].mean() if k >= self.first_gp_level else yv.new_zeros(())
                for k in range(self.n_fidelities_)
            ]
            out = out + torch.stack(extra)
        return out

    def _yvar_internal(self) -> Tensor:
        """Per-row known noise of the training data in standardised units (``n``)."""
        yv = self.train_Yvar_.squeeze(-1)
        if self.log_transform_:
            yv = yv / self.train_Y_.squeeze(-1).clamp_min(torch.finfo(yv.dtype).tiny) ** 2
        return yv / self.y_sd**2

    def _train_rows(self) -> tuple[Tensor, Tensor, Tensor]:
        """Used training rows: raw ``X`` (``N x d``), standardised ``y`` (``N``), noise (``N``)."""
        lev = self.train_X_[:, -1].round().long()
        used = lev >= self.first_gp_level
        X, y = self.train_X_[used], self._to_internal_y(self.train_Y_[used])
        noise = self._noise_per_level()[lev[used]]
        if self.train_Yvar_ is not None:
            noise = noise + self._yvar_internal()[used]
        return X, y, noise
