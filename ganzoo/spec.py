"""The model spec: everything the engine, the benchmark and the conformance kit need to know about a GAN
variant, so that none of them contains model-specific code."""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from ganzoo.errors import GanzooError, PluginError, UsageError, exception_line
from ganzoo.interfaces import Discriminator, Generator, ImageShape


@dataclass(frozen=True)
class Hyperparameters:
    """A model's training defaults; every field can be overridden with ``--set field=value``."""

    latent_dim: int = 100  # size of the latent vector z
    generator_width: int = 64  # base width of G (hidden units or channels of its widest layer / 8)
    discriminator_width: int = 64  # base width of D, same meaning
    generator_lr: float = 2e-4  # Adam learning rate of G
    discriminator_lr: float = 2e-4  # Adam learning rate of D
    generator_betas: tuple[float, float] = (0.5, 0.999)  # Adam (beta1, beta2) of G
    discriminator_betas: tuple[float, float] = (0.5, 0.999)  # Adam (beta1, beta2) of D
    critic_steps: int = 1  # discriminator steps per generator step
    batch_size: int = 64  # images per discriminator step
    loss: str = "non-saturating"  # a name in the loss registry
    penalty: str | None = None  # a name in the penalty registry, or None
    penalty_weight: float = 0.0  # multiplier of the penalty in D's loss (lambda)
    num_classes: int = 0  # classes of a conditional model; the engine takes it from the dataset (0: none)

    def replace(self, **changes: Any) -> Hyperparameters:
        return dataclasses.replace(self, **changes)

    def validate(self) -> None:
        """Raise a UsageError naming the first value that cannot train."""
        positive = ("latent_dim", "generator_width", "discriminator_width", "critic_steps", "batch_size")
        for name in positive:
            if getattr(self, name) <= 0:
                raise UsageError(f"{name} must be positive, got {getattr(self, name)}.")
        for name in ("generator_lr", "discriminator_lr"):
            if not 0 < getattr(self, name) < math.inf:  # also refuses nan
                raise UsageError(f"{name} must be a positive finite number, got {getattr(self, name)}.")
        for name in ("generator_betas", "discriminator_betas"):
            betas = getattr(self, name)
            if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
                raise UsageError(f"{name} must be two numbers in [0, 1), got {betas}.")
        if self.num_classes < 0:
            raise UsageError(f"num_classes must be 0 (unconditional) or positive, got {self.num_classes}.")
        if not 0 <= self.penalty_weight < math.inf:
            raise UsageError(f"penalty_weight must be a finite number >= 0, got {self.penalty_weight}.")


GeneratorFactory = Callable[[ImageShape, Hyperparameters], Generator]
DiscriminatorFactory = Callable[[ImageShape, Hyperparameters], Discriminator]


@dataclass(frozen=True)
class ModelSpec:
    """A registered GAN variant."""

    name: str  # the registry name, e.g. "dcgan"
    summary: str  # one line for `ganzoo list`
    paper: str  # the source paper, e.g. "Radford et al. 2015, arXiv:1511.06434"
    build_generator: GeneratorFactory  # (image_shape, hyperparameters) -> Generator
    build_discriminator: DiscriminatorFactory  # (image_shape, hyperparameters) -> Discriminator
    image_shapes: tuple[ImageShape, ...] = ((1, 28, 28),)  # supported (C, H, W); the first is the default
    defaults: Hyperparameters = field(default_factory=Hyperparameters)  # training defaults
    aliases: tuple[str, ...] = ()  # other names that resolve to this spec
    sync_batchnorm: bool = True  # under DDP, convert BatchNorm to SyncBatchNorm (False: per-rank statistics)
    # Class-conditional: G is called as G(z, labels) and D as D(images, labels), labels int64 (N,) below
    # hyperparameters.num_classes, which the engine sets from the dataset.
    conditional: bool = False
    # D returns (scores, class_logits (N, num_classes)) and both networks add the cross-entropy of the
    # logits against the labels to their losses, weight 1 (the auxiliary classifier of ACGAN, Odena 2017).
    auxiliary_classifier: bool = False

    @property
    def default_image_shape(self) -> ImageShape:
        return self.image_shapes[0]

    def check_image_shape(self, image_shape: ImageShape) -> None:
        if tuple(image_shape) not in {tuple(s) for s in self.image_shapes}:
            shapes = ", ".join("x".join(map(str, s)) for s in self.image_shapes)
            raise UsageError(
                f"model {self.name!r} cannot build images of shape {'x'.join(map(str, image_shape))}; "
                f"it supports {shapes} (C x H x W). Choose a dataset or --image-size/--channels to match."
            )

    def build(
        self, image_shape: ImageShape | None = None, hyperparameters: Hyperparameters | None = None
    ) -> tuple[Generator, Discriminator]:
        """Build G and D for ``image_shape`` and check that they honour the interfaces."""
        image_shape = tuple(image_shape or self.default_image_shape)  # type: ignore[assignment]
        hp = hyperparameters or self.defaults
        self.check_image_shape(image_shape)
        if self.conditional and hp.num_classes < 1:
            raise UsageError(
                f"model {self.name!r} is class-conditional: build it with Hyperparameters.num_classes set to "
                "the number of classes (the engine takes it from the dataset's labels)."
            )
        try:
            G = self.build_generator(image_shape, hp)
            D = self.build_discriminator(image_shape, hp)
        except GanzooError:
            raise
        except Exception as exc:  # a plugin's bug, or hyperparameters its networks cannot take
            raise PluginError(
                f"{_whose(self.name)} failed to build its networks at {'x'.join(map(str, image_shape))}: "
                f"{exception_line(exc)}"
            ) from exc
        if not isinstance(G, Generator) or not isinstance(D, Discriminator):
            raise PluginError(
                f"{_whose(self.name)}: build_generator/build_discriminator must return ganzoo.Generator and "
                f"ganzoo.Discriminator instances, got {type(G).__name__} and {type(D).__name__}."
            )
        if tuple(G.image_shape) != tuple(image_shape) or G.latent_dim != hp.latent_dim:
            raise PluginError(
                f"{_whose(self.name)}: generator declares image_shape {G.image_shape} and latent_dim "
                f"{G.latent_dim}, but {image_shape} and {hp.latent_dim} were asked for."
            )
        classes = hp.num_classes if self.conditional else 0
        if G.num_classes != classes or D.num_classes != classes:
            raise PluginError(
                f"{_whose(self.name)}: generator and discriminator declare num_classes {G.num_classes} and "
                f"{D.num_classes}, but {classes} was asked for (0 means unconditional)."
            )
        return G, D


def check_model_outputs(spec: ModelSpec, G: Generator, D: Discriminator) -> None:
    """Run two latents through G and D and raise PluginError if the shapes differ from the declared ones."""
    was_training = G.training, D.training
    G.eval(), D.eval()
    device = next(G.parameters()).device
    labels = torch.arange(2, device=device) % max(G.num_classes, 1) if spec.conditional else None
    try:
        with torch.no_grad():
            images = _forward(spec, "G", G, torch.zeros(2, G.latent_dim, device=device), labels)
            if tuple(images.shape) != (2, *G.image_shape):
                raise PluginError(
                    f"{_whose(spec.name)}: generator output has shape {tuple(images.shape[1:])}, "
                    f"but it declares image_shape {G.image_shape}."
                )
            output = _forward(spec, "D", D, images, labels)
    finally:
        G.train(was_training[0]), D.train(was_training[1])
    if spec.auxiliary_classifier:
        if not isinstance(output, tuple) or len(output) != 2:
            raise PluginError(
                f"{_whose(spec.name)}: an auxiliary-classifier discriminator must return (scores, class_logits)."
            )
        scores, logits = output
        if tuple(logits.shape) != (2, G.num_classes):
            raise PluginError(
                f"{_whose(spec.name)}: class logits must have shape (N, {G.num_classes}), "
                f"got {tuple(logits.shape)}."
            )
    else:
        scores = output
    if not isinstance(scores, torch.Tensor) or tuple(scores.shape) != (2,):
        shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise PluginError(f"{_whose(spec.name)}: discriminator must return shape (N,), returned {shape}.")


def _forward(
    spec: ModelSpec, which: str, network: torch.nn.Module, inputs: torch.Tensor, labels: torch.Tensor | None
) -> Any:
    try:
        return network(inputs) if labels is None else network(inputs, labels)
    except Exception as exc:  # the plugin's forward pass: say whose it is
        raise PluginError(
            f"{_whose(spec.name)}: {which} failed on a batch of two: {exception_line(exc)}"
        ) from exc


def _whose(model: str) -> str:
    """"model 'x' from plugin 'y'", so that an error names the package to blame or fix."""
    from ganzoo.registry import zoo

    try:
        return f"model {model!r} from plugin {zoo().models.plugin_of(model)!r}"
    except GanzooError:  # a spec used without registering it (tests, the conformance kit)
        return f"model {model!r}"


def parse_override(hp: Hyperparameters, assignment: str) -> Hyperparameters:
    """Apply one ``key=value`` override (the CLI's ``--set``), converting the value to the field's type."""
    key, sep, raw = assignment.partition("=")
    key = key.strip().replace("-", "_")
    fields = {f.name: f for f in dataclasses.fields(Hyperparameters)}
    if not sep:
        raise UsageError(
            f"--set expects key=value with a key among: {', '.join(fields)}; got {assignment!r}."
        )
    if key not in fields:
        close = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UsageError(
            f"--set {assignment!r}: unknown hyperparameter {key!r}.{hint} Keys: {', '.join(fields)}."
        )
    current = getattr(hp, key)
    raw = raw.strip()
    try:
        if key == "penalty":
            value: Any = None if raw.lower() in ("", "none", "null") else raw
        elif isinstance(current, tuple):
            value = tuple(float(x) for x in raw.strip("()[]").split(","))
        elif isinstance(current, int):
            value = int(raw)
        elif isinstance(current, float):
            value = float(raw)
        else:
            value = raw
    except ValueError:
        raise UsageError(f"--set {key}: {raw!r} is not a valid {type(current).__name__}.") from None
    return hp.replace(**{key: value})
