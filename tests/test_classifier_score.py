"""The classifier score from lenet-mnist's own classifier (TF-GAN's MNIST score): near 10 for real digits,
near the number of classes present otherwise, computed from the FID features without a second pass."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import ganzoo
from ganzoo.metrics.classifier_score import classifier_score
from ganzoo.metrics.fid import FidEvaluator, extract_features
from ganzoo.metrics.lenet import load_lenet_mnist


@pytest.fixture(scope="module")
def lenet_and_test():
    net = load_lenet_mnist()
    test = ganzoo.load_dataset("mnist-10k:test")
    images, labels = test.images[:3000], test.labels[:3000]
    return net, images, labels, extract_features(net, images)


def kl_score(probabilities: torch.Tensor) -> float:
    """exp(E KL(p(y|x) || p(y))), written out."""
    marginal = probabilities.mean(dim=0, keepdim=True)
    kl = (probabilities * (probabilities.log() - marginal.log())).sum(dim=1)
    return math.exp(float(kl.mean()))


def test_logits_from_features_are_the_classifiers_logits(lenet_and_test):
    net, images, _, features = lenet_and_test
    assert torch.allclose(
        net.logits_from_features(features[:500]), net.logits(net.prepare(images[:500])), atol=1e-4
    )


def test_real_digits_score_near_ten_and_fewer_classes_near_their_count(lenet_and_test):
    net, _, labels, features = lenet_and_test
    real = classifier_score(net, features, "lenet-mnist")
    assert 9.0 < real.value <= 10.0 and real.num_classes == 10 and real.std is None and real.splits == 1
    half = classifier_score(net, features[labels < 5], "lenet-mnist").value
    one = classifier_score(net, features[labels == 7], "lenet-mnist").value
    assert 4.0 < half < 5.5 and 0.99 < one < 1.5


def test_the_score_equals_the_formula_on_the_softmax(lenet_and_test):
    net, _, _, features = lenet_and_test
    probabilities = net.logits_from_features(features).double().softmax(dim=1)
    assert classifier_score(net, features, "lenet-mnist").value == pytest.approx(
        kl_score(probabilities), rel=1e-9
    )


def test_splits_give_a_spread(lenet_and_test):
    net, _, _, features = lenet_and_test
    split = classifier_score(net, features, "lenet-mnist", splits=10)
    assert split.splits == 10 and split.std > 0


def test_an_extractor_without_a_classifier_has_no_score():
    class Plain(nn.Module):
        def forward(self, images):
            return images.float().flatten(1)

    assert classifier_score(Plain(), torch.zeros(4, 3), "plain") is None


def test_the_evaluator_puts_the_real_sets_score_beside_the_generated_one(lenet_and_test):
    _, images, labels, _ = lenet_and_test
    result = FidEvaluator(images[:1500], kid_subsets=0, manifold=False).evaluate(
        images[1500:][labels[1500:] < 5]
    )
    assert result.classifier_score_real.value > 9 and result.classifier_score.value < 5.5
    assert result.as_dict()["classifier_score"]["name"] == "classifier score (lenet-mnist)"
