"""The conformance kit for plugin authors: ``check_model(spec)`` checks a model spec the way the engine,
the benchmark and distributed training rely on it. Call it from your plugin's tests::

    from ganzoo.testing import check_model
    def test_my_model():
        check_model(MY_SPEC)
"""

from __future__ import annotations

import copy
import io

import torch

from ganzoo.interfaces import Discriminator, Generator, ImageShape
from ganzoo.registry import zoo
from ganzoo.spec import Hyperparameters, ModelSpec, check_model_outputs


class ConformanceError(AssertionError):
    """A model spec broke the contract; the message names the spec, the shape and the check."""


def _fail(spec: ModelSpec, shape: ImageShape, check: str, detail: str) -> None:
    raise ConformanceError(f"{spec.name} at {'x'.join(map(str, shape))}: {check}: {detail}")


def small_hyperparameters(spec: ModelSpec) -> Hyperparameters:
    """The spec's defaults with narrow networks and tiny batches, so the kit runs in seconds on a CPU."""
    hp = spec.defaults
    return hp.replace(
        generator_width=min(hp.generator_width, 8),
        discriminator_width=min(hp.discriminator_width, 8),
        batch_size=4,
    )


def check_model(
    spec: ModelSpec,
    image_shapes: list[ImageShape] | None = None,
    hyperparameters: Hyperparameters | None = None,
) -> None:
    """Check ``spec`` for every supported image shape (or those given); raise ConformanceError on a failure.

    Checks: G and D build and are ganzoo Generator/Discriminator instances; output shapes and the [-1, 1]
    range; gradients reach every parameter of G and D; a seed gives the same samples; a state_dict round
    trip gives the same outputs; one optimisation step on the CPU changes the weights and keeps losses finite.
    """
    if not isinstance(spec, ModelSpec):
        raise ConformanceError(f"expected a ganzoo.ModelSpec, got {type(spec).__name__}")
    hp = hyperparameters or small_hyperparameters(spec)
    hp.validate()
    loss = zoo().losses.get(hp.loss)
    penalty = zoo().penalties.get(hp.penalty) if hp.penalty else None
    for shape in image_shapes or list(spec.image_shapes):
        _check_shape(spec, tuple(shape), hp, loss, penalty)


def _check_shape(spec, shape, hp, loss, penalty) -> None:
    torch.manual_seed(0)
    try:
        G, D = spec.build(shape, hp)
        check_model_outputs(spec, G, D)
    except Exception as exc:
        _fail(spec, shape, "build", f"{type(exc).__name__}: {exc}")
    if not isinstance(G, Generator) or not isinstance(D, Discriminator):
        _fail(spec, shape, "types", "build must return ganzoo.Generator and ganzoo.Discriminator")
    n = max(hp.batch_size, 2)

    # Output shapes and range.
    images = G(G.sample_latent(n, generator=torch.Generator().manual_seed(1)))  # with autograd
    if tuple(images.shape) != (n, *shape):
        _fail(spec, shape, "generator output shape", f"{tuple(images.shape)} != {(n, *shape)}")
    if not torch.isfinite(images).all() or images.min() < -1.0 - 1e-6 or images.max() > 1.0 + 1e-6:
        _fail(spec, shape, "generator range", f"outputs span [{images.min():.3f}, {images.max():.3f}], not [-1, 1]")
    scores = D(images)
    if tuple(scores.shape) != (n,):
        _fail(spec, shape, "discriminator output shape", f"{tuple(scores.shape)} != ({n},)")

    # Gradients reach every parameter.
    G.zero_grad(set_to_none=True)
    D.zero_grad(set_to_none=True)
    real = torch.rand(n, *shape) * 2 - 1
    d_loss = loss.discriminator_loss(D(real), D(images))
    if penalty is not None:
        d_loss = d_loss + hp.penalty_weight * penalty(D, real, images)
    d_loss.backward()
    for module, label in ((G, "generator"), (D, "discriminator")):
        missing = [name for name, p in module.named_parameters() if p.requires_grad and p.grad is None]
        if missing:
            _fail(spec, shape, f"{label} gradients", f"no gradient reaches {', '.join(missing[:5])}")

    # A seed gives the same samples (in eval mode, so batch-norm statistics do not move between draws).
    G.eval()
    with torch.no_grad():
        first = G.sample(n, generator=torch.Generator().manual_seed(7))
        second = G.sample(n, generator=torch.Generator().manual_seed(7))
    if not torch.equal(first, second):
        _fail(spec, shape, "determinism", "the same torch.Generator seed gave different samples")

    # state_dict round trip.
    clone_G, clone_D = spec.build(shape, hp)
    for source, clone in ((G, clone_G), (D, clone_D)):
        buffer = io.BytesIO()
        torch.save(source.state_dict(), buffer)
        buffer.seek(0)
        clone.load_state_dict(torch.load(buffer, weights_only=True))
    clone_G.eval(), D.eval(), clone_D.eval()
    with torch.no_grad():
        z = G.sample_latent(n, generator=torch.Generator().manual_seed(3))
        if not torch.equal(G(z), clone_G(z)):
            _fail(spec, shape, "state_dict round trip", "generator outputs differ after load_state_dict")
        if not torch.equal(D(real), clone_D(real)):
            _fail(spec, shape, "state_dict round trip", "discriminator outputs differ after load_state_dict")

    # One optimisation step changes the weights and keeps losses finite.
    G.train(), D.train()
    before_G = copy.deepcopy(G.state_dict())
    before_D = copy.deepcopy(D.state_dict())
    opt_G = torch.optim.Adam(G.parameters(), lr=hp.generator_lr, betas=hp.generator_betas)
    opt_D = torch.optim.Adam(D.parameters(), lr=hp.discriminator_lr, betas=hp.discriminator_betas)
    opt_D.zero_grad(set_to_none=True)
    fake = G.sample(n)
    d_loss = loss.discriminator_loss(D(real), D(fake))
    if penalty is not None:
        d_loss = d_loss + hp.penalty_weight * penalty(D, real, fake)
    d_loss.backward()
    opt_D.step()
    opt_G.zero_grad(set_to_none=True)
    g_loss = loss.generator_loss(D(G(G.sample_latent(n))))
    g_loss.backward()
    opt_G.step()
    if not (torch.isfinite(d_loss) and torch.isfinite(g_loss)):
        _fail(spec, shape, "training step", f"non-finite losses: D {d_loss.item()}, G {g_loss.item()}")
    for label, module, before in (("generator", G, before_G), ("discriminator", D, before_D)):
        after = module.state_dict()
        if all(torch.equal(before[k], after[k]) for k in before if before[k].is_floating_point()):
            _fail(spec, shape, "training step", f"one optimisation step left the {label}'s weights unchanged")


__all__ = ["ConformanceError", "check_model", "small_hyperparameters"]
