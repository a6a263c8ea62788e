"""Class-conditional models: labels from the datasets, the engine's labeled batches, the errors, exact resume,
sampling by class and the conformance kit's conditional checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganzoo
from ganzoo import checkpoint as ckpt
from ganzoo.engine import TrainConfig, Trainer
from ganzoo.engine.data import LabeledBatches, RealBatches
from ganzoo.testing import ConformanceError, check_model

TINY = ["generator_width=8", "discriminator_width=8"]


def tiny_config(out: Path, model: str, **changes) -> dict:
    config = dict(model=model, overrides=TINY, batch_size=16, sample_every=0, checkpoint_every=5, log_every=5)
    config.update(out=str(out), **changes)
    return config


def labeled(num_classes: int, labels: list[int], size: int = 28) -> ganzoo.ImageDataset:
    images = torch.randint(0, 256, (len(labels), 1, size, size), dtype=torch.uint8)
    return ganzoo.ImageDataset(
        "toy", "train", images, torch.tensor(labels), "test data", num_classes=num_classes
    )


@pytest.mark.parametrize("model", ["cgan-pd", "acgan"])
def test_conditional_resume_is_exact(tmp_path, model):
    config = tiny_config(tmp_path / "straight", model)
    ganzoo.train(steps=10, **config)
    ganzoo.train(steps=5, **{**config, "out": str(tmp_path / "split")})
    ganzoo.train(steps=10, resume=tmp_path / "split")
    straight = torch.load(ckpt.checkpoint_path(tmp_path / "straight", 10), weights_only=True)
    split = torch.load(ckpt.checkpoint_path(tmp_path / "split", 10), weights_only=True)
    for network in ("generator", "discriminator", "ema_generator"):
        for key in straight[network]:
            assert torch.equal(straight[network][key], split[network][key]), (network, key)


def test_the_number_of_classes_comes_from_the_dataset(tmp_path):
    trainer = Trainer(
        TrainConfig(**tiny_config(tmp_path / "run", "cgan-pd")), dataset=labeled(4, [0, 1, 2, 3] * 8)
    )
    assert trainer.hp.num_classes == 4 and trainer.G.num_classes == 4
    assert isinstance(trainer.real_batches, LabeledBatches)
    images, labels = trainer.real_batches()
    assert (
        images.shape == (16, 1, 28, 28)
        and labels.dtype == torch.int64
        and set(labels.tolist()) <= {0, 1, 2, 3}
    )
    G = ckpt.load_generator(
        trainer.run().directory
    )  # rebuilt with its classes from the saved hyperparameters
    assert G.num_classes == 4


def test_unconditional_models_get_plain_batches(tmp_path):
    trainer = Trainer(TrainConfig(**tiny_config(tmp_path / "run", "dcgan")))
    assert type(trainer.real_batches) is RealBatches and trainer.hp.num_classes == 0
    assert isinstance(trainer.real_batches(), torch.Tensor)


def test_a_conditional_model_on_an_unlabeled_dataset_is_a_clear_error(tmp_path):
    folder = tmp_path / "pictures"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(np.full((28, 28), 40 * i, np.uint8)).save(folder / f"{i}.png")
    config = tiny_config(tmp_path / "run", "cgan-pd", dataset=f"folder:{folder}", image_size=28, batch_size=2)
    with pytest.raises(
        ganzoo.UsageError, match="class-conditional and needs labeled images.*first-level subfolder"
    ):
        Trainer(TrainConfig(**config))
    assert not (tmp_path / "run" / "config.json").exists()


def test_labels_outside_the_range_are_a_clear_error(tmp_path):
    dataset = labeled(3, [0, 1, 2, 5] * 4)
    with pytest.raises(ganzoo.UsageError, match=r"labels must lie in 0\.\.2.*0\.\.5"):
        Trainer(TrainConfig(**tiny_config(tmp_path / "run", "cgan-pd")), dataset=dataset)


def test_num_classes_set_by_hand_must_match_the_dataset(tmp_path):
    config = tiny_config(tmp_path / "run", "cgan-pd", overrides=[*TINY, "num_classes=7"])
    with pytest.raises(ganzoo.UsageError, match="num_classes=7 differs from the 10 classes"):
        Trainer(TrainConfig(**config))


def test_folder_labels_come_from_first_level_subfolders(tmp_path):
    for name, value in (("cat", 10), ("dog", 200)):
        for i in range(3):
            (tmp_path / name / "deeper").mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((8, 8), value, np.uint8)).save(tmp_path / name / "deeper" / f"{i}.png")
    (tmp_path / "dog" / "broken.png").write_bytes(b"not a png")
    dataset = ganzoo.load_dataset(
        f"folder:{tmp_path}", options=ganzoo.DatasetOptions(image_size=8, progress=False)
    )
    assert dataset.class_names == ("cat", "dog") and dataset.num_classes == 2
    assert len(dataset) == 6  # the unreadable file is skipped, with its label
    for image, label in zip(dataset.images, dataset.labels):
        assert int(image.float().mean() > 100) == int(label)


def test_built_in_datasets_have_labels():
    dataset = ganzoo.load_dataset("mnist-10k:test")
    assert (
        dataset.num_classes == 10
        and dataset.labels.dtype == torch.int64
        and len(dataset.labels) == len(dataset)
    )


def test_sample_by_class():
    spec = ganzoo.get_model("cgan-pd")
    G, _ = spec.build(hyperparameters=spec.defaults.replace(num_classes=10, generator_width=8))
    G.eval()
    with torch.no_grad():
        threes = G.sample(4, labels=3, generator=torch.Generator().manual_seed(0))
        again = G.sample(4, labels=torch.full((4,), 3), generator=torch.Generator().manual_seed(0))
    assert threes.shape == (4, 1, 28, 28) and torch.equal(threes, again)
    with pytest.raises(ganzoo.UsageError, match=r"0\.\.9"):
        G.sample(2, labels=10)
    plain, _ = ganzoo.get_model("dcgan").build()
    with pytest.raises(ganzoo.UsageError, match="not class-conditional"):
        plain.sample(2, labels=1)


def test_a_conditional_spec_needs_its_number_of_classes():
    with pytest.raises(ganzoo.UsageError, match="class-conditional.*num_classes"):
        ganzoo.get_model("cgan-pd").build()


def test_kit_catches_a_generator_that_ignores_its_labels():
    spec = ganzoo.get_model("cgan-pd")

    class Deaf(spec.build_generator):
        def forward(self, z, labels):
            return super().forward(z, torch.zeros_like(labels))

    deaf = ganzoo.ModelSpec(**{**spec.__dict__, "name": "deaf", "build_generator": Deaf})
    with pytest.raises(ConformanceError, match="same images for other labels"):
        check_model(deaf, image_shapes=[(1, 28, 28)])


def test_info_builds_a_conditional_model_for_ten_classes():
    from click.testing import CliRunner

    from ganzoo.cli import cli

    result = CliRunner().invoke(cli, ["info", "cgan-pd"])
    assert result.exit_code == 0, result.output
    assert "(for 10 classes)" in result.output and "conditional:  yes" in result.output
