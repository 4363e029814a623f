"""The result of a loss audit (:func:`course_vae.audit.audit_vae_loss`) and its findings in
plain words: what each measured coefficient, form and reduction means, and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["TOLERANCE", "LossAudit", "beta_findings", "findings", "recon_hint"]

TOLERANCE = 1e-4
"""Relative residual (and coefficient spread) under which the audit calls a fit exact."""

_KL_FIX = "KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())"


@dataclass(frozen=True)
class LossAudit:
    """What :func:`audit_vae_loss` found: loss = c_rec sum_n sum_p r + c_kl sum_n KL (+ const).

    ``beta`` = c_kl / c_rec at ``batch_size`` (None when a term's form is unrecognised or the
    loss has no reconstruction term; 0 without a KL).  ``kl_form``: "closed form",
    "log-sigma", "none" or "unrecognised".  ``recon_form``: "bernoulli", "squared error",
    "none" or "unrecognised".  ``recon_reduction`` / ``kl_reduction``: how each term scales
    with the batch, "sum" (unchanged) or "mean" (divided by the batch size), "other", or None
    (no such term, or not measurable).  ``reduction``: "sum" or "mean" when the present terms
    agree, "mixed" when they differ (then beta depends on the batch size), "unrecognised"
    otherwise.  ``minimised``: c_rec > 0 (None when c_rec is unknown).  ``finite``: loss and
    gradients finite in float32 for logvar in [-30, 30].  ``deterministic``: two calls with
    the same inputs agree.  ``*_residual``: the worst relative residual of the fits.
    ``probe_dtype``: "float64", or "float32" if the function failed in float64.
    """

    beta: float | None
    minimised: bool | None
    kl_form: str
    reduction: str
    recon_form: str
    finite: bool
    messages: tuple[str, ...]
    c_rec: float | None
    c_kl: float | None
    recon_reduction: str | None
    kl_reduction: str | None
    recon_residual: float
    kl_residual: float
    deterministic: bool
    probe_dtype: str
    input_dim: int
    latent_dim: int
    batch_size: int
    recon: str

    def report(self) -> str:
        """The audit in plain words: the decomposition, then each finding with its fix."""

        def num(v: float | None) -> str:
            return "unknown" if v is None else f"{v:.6g}"

        lines = [
            f"VAE loss audit (input_dim={self.input_dim}, latent_dim={self.latent_dim}, "
            f"batch_size={self.batch_size}, recon={self.recon!r}; probed in {self.probe_dtype})",
            "  loss = c_rec * sum_examples sum_pixels r(x, recon_x)"
            " + c_KL * sum_examples KL(mu, logvar)",
            f"  reconstruction r: {self.recon_form}, over the batch: "
            f"{self.recon_reduction or '-'}, c_rec = {num(self.c_rec)}",
            f"  KL: {self.kl_form}, over the batch: {self.kl_reduction or '-'}, "
            f"c_KL = {num(self.c_kl)}",
            f"  effective beta = c_KL / c_rec = {num(self.beta)}   (reduction: {self.reduction})",
            f"  minimised: {_yes(self.minimised)}; finite in float32 for logvar in [-30, 30]: "
            f"{_yes(self.finite)}; deterministic: {_yes(self.deterministic)}",
            "Findings:",
        ]
        lines += [f"  - {m}" for m in self.messages]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()


def _yes(flag: bool | None) -> str:
    return "unknown" if flag is None else ("yes" if flag else "NO")


def _close(a: float | None, b: float) -> bool:
    return a is not None and abs(a - b) <= TOLERANCE * max(abs(a), abs(b))


def findings(f: dict[str, Any], recon_detail: str, bad_finite: list[str], failure) -> list[str]:
    """The findings in plain words, each with its fix."""
    out = []
    beta, b, n, d = f["beta"], f["batch_size"], f["input_dim"], f["latent_dim"]
    if failure is not None:
        out.append(f"loss_fn failed on a batch of {2 * b} ({type(failure).__name__}: {failure}), "
                   "so how each term scales with the batch is unknown. Fix: take the batch "
                   "size from x.size(0), not from a constant.")
    if f["minimised"] is False:
        out.append("The whole loss has the wrong sign (c_rec < 0): minimising it makes the "
                   "reconstruction worse. It looks like the ELBO itself is returned. Fix: "
                   "return its negative, loss = BCE + KLD.")
    if f["recon_form"] == "none":
        out.append("The loss does not depend on recon_x: there is no reconstruction term, so "
                   "beta is undefined. Fix: add the reconstruction term, e.g. "
                   'F.binary_cross_entropy(recon_x, x, reduction="sum").')
    elif f["recon_form"] == "unrecognised":
        out.append(f"The reconstruction term's derivative matches neither binary cross-entropy "
                   f"nor squared error (relative residual {f['recon_residual']:.2g}), so beta "
                   f"is not reported. Fix: {recon_hint(f['recon'])}; otherwise use "
                   'F.binary_cross_entropy(recon_x, x, reduction="sum").')
    elif f["recon_form"] == "squared error" and beta is not None and beta > 0:
        on = " of sigmoid(recon_x)" if "sigmoid" in recon_detail else ""
        out.append(f"The reconstruction is the squared error{on}, and beta is relative to the "
                   f"summed squared error: c_rec*SE + c_KL*KL is proportional to "
                   f"SE/(2 sigma^2) + KL, the negative ELBO of a Gaussian decoder of variance "
                   f"sigma^2 = beta/2 = {beta / 2:.6g}. If that is not the noise variance you "
                   "mean, Fix: SE / (2 * sigma2) + KLD.")
    if f["kl_form"] == "none":
        out.append(f"The loss has no KL term (beta = 0): an autoencoder, not a VAE; prior "
                   f"samples will be poor. Fix: add {_KL_FIX}.")
    elif f["kl_form"] == "log-sigma":
        out.append("The KL reads logvar as log sigma: it is 1/2 sum(mu^2 + exp(2 l) - 2 l - 1), "
                   "the KL of a Gaussian of variance sigma^4. Fix: with l = log sigma^2, "
                   f"{_KL_FIX}.")
    elif f["kl_form"] == "unrecognised":
        if not f["deterministic"]:
            out.append("Two calls with the same inputs give different losses: something is "
                       "random or stateful, e.g. a one-sample Monte Carlo KL, log q(z|x) - "
                       "log p(z) at a sampled z (noisy, can be negative on a batch), or a weight "
                       "that changes between calls (an annealing counter inside the loss). Its "
                       "weight cannot be read exactly, so beta is not reported. If it is a "
                       f"sampled KL, Fix: {_KL_FIX}; if a schedule, pass beta from outside.")
        else:
            out.append(f"The KL part (the dependence on mu and logvar) matches neither "
                       f"1/2 sum(mu^2 + e^l - l - 1) nor its log-sigma form at one weight "
                       f"for all probe points, near the prior and far from it (relative "
                       f"residual {f['kl_residual']:.2g}), so beta is not reported. A loss "
                       "piecewise in the KL (free bits, a capacity target gamma |KL - C|) "
                       "lands here: its weight depends on where the KL is, so it has no single "
                       f"beta. Otherwise, Fix: compare it with {_KL_FIX}.")
    elif not f["deterministic"]:
        out.append("Two calls with the same inputs give different losses: something random "
                   "enters the loss outside the terms the audit identified. Fix: remove the "
                   "randomness from the loss (sample z in the model, not in the loss).")
    if f["reduction"] == "unrecognised" and failure is None and f["deterministic"]:
        out.append(f"How the terms scale with the batch could not be read (reconstruction: "
                   f"{f['recon_reduction']}, KL: {f['kl_reduction']}; expected 'sum' or 'mean'). "
                   "Fix: reduce each term by a sum, or a sum divided by x.size(0).")
    if beta is not None and f["kl_form"] != "none":
        out += beta_findings(f, beta, b, n, d)
    if bad_finite:
        out.append("In float32 the loss or its gradients are NaN or infinite for "
                   f"{'; '.join(bad_finite)}. Common cause: log det Sigma computed as "
                   "log(prod(sigma^2)), whose product over latents overflows or underflows. "
                   f"Fix: -log det Sigma = -sum(logvar), i.e. {_KL_FIX}.")
    if not out:
        red = "summed" if f["reduction"] == "sum" else "averaged"
        out.append(f"No problem found: beta = 1 with both terms {red} over the batch, the "
                   "negative ELBO. Nothing to fix.")
    return out


def beta_findings(f: dict[str, Any], beta: float, b: int, n: int, d: int) -> list[str]:
    """Explain a beta other than 1 by the per-example weights of the two terms."""
    out = []
    rr, kr = f["recon_reduction"], f["kl_reduction"]
    per_ex = {"sum": 1, "mean": b}
    w_rec = f["c_rec"] * per_ex[rr] if rr in per_ex else None
    w_kl = f["c_kl"] * per_ex[kr] if kr in per_ex else None
    if beta < 0:
        out.append("The KL and the reconstruction enter with opposite signs (beta < 0): once "
                   "the loss is minimised, the KL is rewarded, pushing q(z|x) away from the "
                   f"prior without bound. Fix: add the KL with a plus sign, {_KL_FIX}.")
    if f["reduction"] == "mixed":
        what = "reconstruction" if rr == "mean" else "KL"
        other = "KL" if rr == "mean" else "reconstruction"
        out.append(f"The {what} is divided by the batch size and the {other} is not, so beta "
                   f"changes with the batch size (beta = {beta:.6g} at batch_size={b}). Fix: "
                   "treat the batch the same way in both terms (sum both, or divide both by "
                   "x.size(0)).")
    if w_rec is not None and n > 1 and _close(abs(w_rec) * n, 1.0):
        out.append(f"The reconstruction is averaged over the {n} pixels instead of summed, "
                   f"which multiplies beta by {n}. Fix: reduction='sum' over pixels (divide by "
                   "x.size(0) afterwards for a per-example loss).")
    if w_kl is not None and d > 1 and _close(abs(w_kl) * d, 1.0):
        out.append(f"The KL is averaged over the {d} latent dimensions instead of summed, which "
                   f"divides beta by {d}. Fix: sum over the latent dimension (.sum(dim=1)).")
    if (f["recon_form"] == "bernoulli" and f["kl_form"] == "closed form" and w_rec is not None
            and w_kl is not None and _close(abs(w_rec), 1.0) and _close(abs(w_kl), 2.0)):
        out.append(f"The KL is twice 1/2 sum(mu^2 + sigma^2 - log sigma^2 - 1): the 1/2 is "
                   f"missing. Fix: {_KL_FIX}.")
    if not _close(abs(beta), 1.0) and f["recon_form"] == "bernoulli":
        out.append(f"Effective beta = {beta:.6g}: the KL weighs {abs(beta):.6g} times what the "
                   "ELBO gives it. Fix (unless you chose this beta): sum the "
                   "reconstruction over pixels, sum the KL over latent dimensions, and treat "
                   "the batch the same way in both.")
    return out


def recon_hint(recon: str) -> str:
    """The advice when the reconstruction term fits neither form: try the other ``recon``."""
    other = "logits" if recon == "probs" else "probs"
    return f"if recon_x holds {other}, pass recon={other!r}"
