"""The conformance kit for plugin authors: ``check_model(spec)`` checks a model spec the way the engine,
the benchmark and distributed training rely on it. Call it from your plugin's tests::

    from ganzoo.testing import check_model
    import my_plugin
    def test_my_model():
        check_model(my_plugin.SPEC, plugin=my_plugin)

``plugin`` registers the module's (or object's) losses, penalties and augmentations for the check, so that a
package whose model uses its own loss is testable before it is installed.
"""

from __future__ import annotations

import copy
import io

import torch
import torch.nn.functional as F

from ganzoo import losses
from ganzoo.augment import Augmentation
from ganzoo.conditioning import split_output
from ganzoo.interfaces import Discriminator, Generator, ImageShape, balanced_labels
from ganzoo.registry import Zoo, zoo
from ganzoo.spec import Hyperparameters, ModelSpec, check_model_outputs


class ConformanceError(AssertionError):
    """A model spec broke the contract; the message names the spec, the shape and the check."""


def _fail(spec: ModelSpec, shape: ImageShape, check: str, detail: str) -> None:
    raise ConformanceError(f"{spec.name} at {'x'.join(map(str, shape))}: {check}: {detail}")


def small_hyperparameters(spec: ModelSpec) -> Hyperparameters:
    """The spec's defaults with narrow networks and tiny batches, so the kit runs in seconds on a CPU; a
    conditional spec gets 3 classes unless its defaults name a number."""
    hp = spec.defaults
    return hp.replace(
        generator_width=min(hp.generator_width, 8),
        discriminator_width=min(hp.discriminator_width, 8),
        batch_size=4,
        num_classes=(hp.num_classes or 3) if spec.conditional else 0,
    )


LATENT_SCALES = (10.0, 100.0)  # G is also driven with z times these: its output must stay in [-1, 1]


def check_model(
    spec: ModelSpec,
    image_shapes: list[ImageShape] | None = None,
    hyperparameters: Hyperparameters | None = None,
    *,
    plugin: object | None = None,
) -> None:
    """Check ``spec`` for every supported image shape (or those given); raise ConformanceError on a failure.

    Checks: G and D build and are ganzoo Generator/Discriminator instances; output shapes; the [-1, 1] range,
    also for latents scaled by 10 and 100 (only a bounded output layer such as tanh passes); gradients reach
    every parameter of G and D; a seed gives the same samples; a state_dict round trip gives the same
    outputs; one optimisation step on the CPU changes the weights and keeps losses finite.
    Conditional specs are called with labels, and the label must change G's images and D's scores (or, with
    an auxiliary classifier, D's class logits must have one column per class).

    ``plugin``: the module or object whose hooks register the losses, penalties and augmentations the spec
    uses, when it is not installed; its augmentations are checked too (:func:`check_augmentation`).
    """
    if not isinstance(spec, ModelSpec):
        raise ConformanceError(f"expected a ganzoo.ModelSpec, got {type(spec).__name__}")
    registry = _registry_with(plugin)
    hp = hyperparameters or small_hyperparameters(spec)
    hp.validate()
    loss = registry.losses.get(hp.loss)
    penalty = registry.penalties.get(hp.penalty) if hp.penalty else None
    for shape in image_shapes or list(spec.image_shapes):
        _check_shape(spec, tuple(shape), hp, loss, penalty)
    if plugin is not None:
        info = registry.plugins.get(registry.plugin_manager.get_name(plugin) or "")
        for name in info.registered.get("augmentations", []) if info is not None else []:
            check_augmentation(registry.augmentations.get(name), image_shapes or list(spec.image_shapes))


def check_augmentation(augmentation: Augmentation, image_shapes: list[ImageShape] | None = None) -> None:
    """Check a differentiable augmentation: same shape and dtype out, finite, and the gradient reaches the input."""
    for shape in image_shapes or [(1, 28, 28), (3, 32, 32)]:
        images = (torch.rand(4, *shape) * 2 - 1).requires_grad_(True)
        where = f"augmentation {augmentation.name!r} at {'x'.join(map(str, shape))}"
        try:
            out = augmentation(images)
        except Exception as exc:
            raise ConformanceError(f"{where}: failed: {type(exc).__name__}: {exc}") from exc
        if not isinstance(out, torch.Tensor) or out.shape != images.shape or out.dtype != images.dtype:
            got = f"{out.dtype} {tuple(out.shape)}" if isinstance(out, torch.Tensor) else type(out).__name__
            raise ConformanceError(f"{where}: returned {got}, not {images.dtype} {tuple(images.shape)}")
        if not torch.isfinite(out).all():
            raise ConformanceError(f"{where}: non-finite outputs")
        if not out.requires_grad:
            raise ConformanceError(f"{where}: not differentiable (its output has no graph), so G cannot learn through it")
        (gradient,) = torch.autograd.grad(out.sum(), images, allow_unused=True)
        if gradient is None or not torch.isfinite(gradient).all():
            raise ConformanceError(f"{where}: no finite gradient reaches the input images")


def _plugin_name(plugin: object) -> str:
    return getattr(plugin, "__name__", None) or type(plugin).__name__  # as Zoo names its extra plugins


def _registry_with(plugin: object | None) -> Zoo:
    """The process-wide registry, or, for a plugin it lacks, a separate one with the plugin added."""
    if plugin is None or any(p is plugin for p in zoo().plugin_manager.get_plugins()):
        return zoo()
    trial = Zoo(extra_plugins=[plugin]).load()
    info = trial.plugins.get(_plugin_name(plugin))
    if info is not None and info.error:
        raise ConformanceError(f"plugin {info.name!r} cannot be registered: {info.error}")
    return trial


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
    labels = balanced_labels(n, hp.num_classes) if spec.conditional else None
    gen, disc = _generate(G, labels), _discriminate(spec, D, labels)

    # Output shapes and range.
    images = gen(G.sample_latent(n, generator=torch.Generator().manual_seed(1)))  # with autograd
    if tuple(images.shape) != (n, *shape):
        _fail(spec, shape, "generator output shape", f"{tuple(images.shape)} != {(n, *shape)}")
    if not torch.isfinite(images).all() or images.min() < -1.0 - 1e-6 or images.max() > 1.0 + 1e-6:
        _fail(spec, shape, "generator range", f"outputs span [{images.min():.3f}, {images.max():.3f}], not [-1, 1]")
    _check_bounded(spec, shape, G, gen, n)
    scores = disc(images)
    if tuple(scores.shape) != (n,):
        _fail(spec, shape, "discriminator output shape", f"{tuple(scores.shape)} != ({n},)")

    # Gradients reach every parameter.
    G.zero_grad(set_to_none=True)
    D.zero_grad(set_to_none=True)
    real = torch.rand(n, *shape) * 2 - 1
    d_loss = loss.discriminator_loss(disc(real), disc(images)) + _class_loss(spec, D, (real, images), labels)
    if penalty is not None:
        d_loss = d_loss + hp.penalty_weight * penalty(disc, real, images)
    d_loss.backward()
    for module, label in ((G, "generator"), (D, "discriminator")):
        missing = [name for name, p in module.named_parameters() if p.requires_grad and p.grad is None]
        if missing:
            _fail(spec, shape, f"{label} gradients", f"no gradient reaches {', '.join(missing[:5])}")

    # A seed gives the same samples (in eval mode, so batch-norm statistics do not move between draws).
    G.eval()
    with torch.no_grad():
        first = G.sample(n, generator=torch.Generator().manual_seed(7), labels=labels)
        second = G.sample(n, generator=torch.Generator().manual_seed(7), labels=labels)
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
        if not torch.equal(gen(z), _generate(clone_G, labels)(z)):
            _fail(spec, shape, "state_dict round trip", "generator outputs differ after load_state_dict")
        if not torch.equal(disc(real), _discriminate(spec, clone_D, labels)(real)):
            _fail(spec, shape, "state_dict round trip", "discriminator outputs differ after load_state_dict")

    # One optimisation step changes the weights and keeps losses finite.
    G.train(), D.train()
    before_G = copy.deepcopy(G.state_dict())
    before_D = copy.deepcopy(D.state_dict())
    opt_G = torch.optim.Adam(G.parameters(), lr=hp.generator_lr, betas=hp.generator_betas)
    opt_D = torch.optim.Adam(D.parameters(), lr=hp.discriminator_lr, betas=hp.discriminator_betas)
    opt_D.zero_grad(set_to_none=True)
    fake = G.sample(n, labels=labels)  # no autograd
    d_loss = loss.discriminator_loss(disc(real), disc(fake)) + _class_loss(spec, D, (real, fake), labels)
    if penalty is not None:
        d_loss = d_loss + hp.penalty_weight * penalty(disc, real, fake)
    d_loss.backward()
    opt_D.step()
    opt_G.zero_grad(set_to_none=True)
    fake = gen(G.sample_latent(n))
    g_loss = losses.generator_loss(loss, disc(fake), lambda: disc(real).detach())
    g_loss = g_loss + _class_loss(spec, D, (fake,), labels)
    g_loss.backward()
    opt_G.step()
    if not (torch.isfinite(d_loss) and torch.isfinite(g_loss)):
        _fail(spec, shape, "training step", f"non-finite losses: D {d_loss.item()}, G {g_loss.item()}")
    for label, module, before in (("generator", G, before_G), ("discriminator", D, before_D)):
        after = module.state_dict()
        if all(torch.equal(before[k], after[k]) for k in before if before[k].is_floating_point()):
            _fail(spec, shape, "training step", f"one optimisation step left the {label}'s weights unchanged")
    if spec.conditional:  # after the step: an initialisation may start with every class alike (zero embeddings)
        _check_labels_matter(spec, shape, G, D, labels, hp.num_classes)


def _generate(G, labels):
    return G if labels is None else (lambda z: G(z, labels))


def _discriminate(spec: ModelSpec, D, labels):
    """D as a function of images returning scores (N,), for unconditional and conditional specs alike."""
    if labels is None:
        return D
    return lambda images: split_output(D(images, labels), spec.auxiliary_classifier)[0]


def _class_loss(spec: ModelSpec, D, batches, labels) -> torch.Tensor | float:
    """The auxiliary classifier's cross-entropy on each batch, as the engine adds it; 0 without one."""
    if not spec.auxiliary_classifier:
        return 0.0
    return sum(F.cross_entropy(D(images, labels)[1], labels) for images in batches)


def _check_labels_matter(spec, shape, G, D, labels, num_classes) -> None:
    """The same latents with other labels give other images; D's scores (or class logits) depend on them."""
    if num_classes < 2:
        return
    other = (labels + 1) % num_classes
    was_training = G.training, D.training
    G.eval(), D.eval()
    with torch.no_grad():
        z = G.sample_latent(len(labels), generator=torch.Generator().manual_seed(5))
        images = G(z, labels)
        if torch.equal(images, G(z, other)):
            _fail(spec, shape, "conditioning", "the generator gave the same images for other labels")
        output, other_output = D(images, labels), D(images, other)
    G.train(was_training[0]), D.train(was_training[1])
    if spec.auxiliary_classifier:
        if not isinstance(output, tuple) or tuple(output[1].shape) != (len(labels), num_classes):
            _fail(spec, shape, "class logits", f"D must return (scores, class logits (N, {num_classes}))")
    elif torch.equal(output, other_output):
        _fail(spec, shape, "conditioning", "the discriminator gave the same scores for other labels")


def _check_bounded(spec, shape, G, generate, n) -> None:
    """An untrained G's outputs may happen to lie in [-1, 1] without a bounded output layer; large latents
    (in eval mode, where batch norm does not rescale them away) push an unbounded one out."""
    G.eval()
    with torch.no_grad():
        z = G.sample_latent(n, generator=torch.Generator().manual_seed(2))
        for scale in LATENT_SCALES:
            images = generate(z * scale)
            if not torch.isfinite(images).all() or images.abs().max() > 1.0 + 1e-6:
                _fail(
                    spec, shape, "generator range",
                    f"G(z * {scale:g}) spans [{images.min():.3f}, {images.max():.3f}], not [-1, 1]; end the "
                    f"generator with a bounded layer such as tanh",
                )
    G.train()


__all__ = ["ConformanceError", "check_augmentation", "check_model", "small_hyperparameters"]
