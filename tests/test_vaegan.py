"""VAE-GAN (pyext.models.vaegan, pyext.losses.vaegan, pyext.training.steps.vaegan): the KL term and
the feature likelihood against hand-computed values, which weights receive which gradient (the GAN
term not in the encoder, gamma on the decoder's likelihood, the likelihood not in D), what D judges,
sampling from the prior through the decoder, a run resumed bit for bit, and its refusals. (Its
one-line params refusals: tests/test_config.py; trained and evaluated through the stage scripts:
tests/test_generation_eval.py.)"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from cases import assert_resumes_exactly, family_params

from pyext.config import ParamsError
from pyext.losses.vaegan import feature_likelihood, kl_divergence
from pyext.models import NoiseGenerator
from pyext.models.base import seeded_generator
from pyext.models.dcgan import DCGAN
from pyext.models.vaegan import VAEGAN, VAEGANDiscriminator
from pyext.training import make_step

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _params(kind: str = "bce", gamma: float = 0.3):
    knobs = dict(latent=6, width=0.125, gamma=gamma, kl_weight=0.5, layer=2)
    return family_params("vaegan", knobs, kind, steps=2, checkpoint_every=1)


def test_the_kl_term_and_the_feature_likelihood_by_hand():
    # KL(N(mu, s^2) || N(0, 1)) = -1/2 (1 + log s^2 - mu^2 - s^2) per entry: mu 1, s^2 1 -> 0.5;
    # mu 2, s^2 2 -> -1/2 (1 + log 2 - 4 - 2) = 2.5 - log(2) / 2; summed per row, the rows averaged.
    mu, logvar = torch.tensor([[1.0, 2.0], [0.0, 0.0]]), torch.tensor([[0.0, math.log(2.0)], [0.0, 0.0]])
    assert float(kl_divergence(mu, logvar)) == pytest.approx((0.5 + 2.5 - math.log(2) / 2 + 0.0) / 2, rel=1e-6)
    # -log N(real | fake, I) less its constant = 1/2 ||fake - real||^2 over each sample's features:
    # rows (0, 2) -> 2 and (3, 0, 0, 0) -> 4.5 of (B, 1, 2, 2) features, averaged: 3.25.
    fake = torch.tensor([[1.0, 2.0, 0.0, 0.0], [3.0, 4.0, 1.0, 1.0]]).view(2, 1, 2, 2)
    real = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 4.0, 1.0, 1.0]]).view(2, 1, 2, 2)
    assert float(feature_likelihood(fake, real)) == pytest.approx(3.25)
    with pytest.raises(ValueError, match="one shape"):
        feature_likelihood(fake, real[:, :, :1])


def test_sampling_decodes_prior_latents_and_the_discriminator_opens_its_layers():
    torch.manual_seed(0)
    model = VAEGAN(size=32, latent=6, width=0.125).eval()
    assert isinstance(model, NoiseGenerator) and isinstance(model.decoder, DCGAN) and model.decoder.latent == 6
    samples = model.sample(3, generator=seeded_generator([2]))
    z = torch.randn(3, 6, generator=seeded_generator([2]))
    torch.testing.assert_close(samples, model.decoder(z), rtol=0, atol=0)  # the decoder of standard normal z
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    code, mu, logvar = model.encode(x, torch.ones(2, 6))
    assert mu.shape == logvar.shape == (2, 6)
    torch.testing.assert_close(code, mu + (logvar / 2).exp(), rtol=0, atol=0)  # z = mu + sigma * eps
    torch.testing.assert_close(model.reconstruct(x), model.decoder(mu), rtol=0, atol=0)  # the code's mean decoded
    d = VAEGANDiscriminator(size=32, width=0.125, norm="none")
    assert [tuple(d.features(x, layer).shape) for layer in (1, 2, 3)] == [(2, 8, 16, 16), (2, 16, 8, 8), (2, 32, 4, 4)]
    torch.testing.assert_close(d.features(x, 1), F.leaky_relu(d.net[0](x), 0.2), rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"layer must be an int in 1\.\.3"):
        d.features(x, 4)


def test_which_weights_receive_which_gradient():
    # The encoder and decoder update (Algorithm 1) with the optimiser's step held back, against the
    # gradients of the terms computed by hand from the same networks, images and noise:
    # encoder <- kl_weight * L_prior + L_llike (no GAN term); decoder <- gamma * L_llike + the GAN term.
    params = _params(gamma=0.3)
    step = make_step(params, torch.device("cpu"))
    clips = torch.rand(4, 5, 3, 32, 32) * 2 - 1
    step.opt_g.step = lambda *args, **kwargs: None
    logged = step.generator_update(clips, 0, 1)  # the update after D's batch 0 uses that batch
    encoder, decoder = list(step.model.encoder.parameters()), list(step.model.decoder.parameters())
    got_enc, got_dec = [p.grad.clone() for p in encoder], [p.grad.clone() for p in decoder]

    x, eps, z_prior = step.batch(clips, 0, 0)
    z, mu, logvar = step.model.encode(x, eps)
    likelihood = 0.5 * (step.D.features(step.model.decoder(z), 2) - step.D.features(x, 2).detach()).square().sum() / 4
    prior = -0.5 * (1 + logvar - mu.square() - logvar.exp()).sum() / 4
    (out,) = step.D([step.model.decoder(torch.cat([z.detach(), z_prior]))])
    gan = F.softplus(-out).mean()  # bce's generator loss
    for name, value in (("kl", prior), ("likelihood", likelihood)):
        torch.testing.assert_close(logged[name], value.detach(), rtol=1e-5, atol=1e-5, msg=name)
    torch.testing.assert_close(logged["loss_g"], (0.3 * likelihood + gan).detach(), rtol=1e-5, atol=1e-5)
    want_enc = torch.autograd.grad(0.5 * prior + likelihood, encoder, retain_graph=True)
    llike_dec = torch.autograd.grad(likelihood, decoder, retain_graph=True)
    gan_dec = torch.autograd.grad(gan, decoder, retain_graph=True)
    for got, want in zip(got_enc, want_enc):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)
    for got, a, b in zip(got_dec, llike_dec, gan_dec):
        torch.testing.assert_close(got, 0.3 * a + b, rtol=1e-4, atol=1e-6)
    # The GAN term does reach the encoder where the code is not cut off: the check above could fail.
    through = torch.autograd.grad(F.softplus(-step.D([step.model.decoder(z)])[0]).mean(), encoder)
    assert any(bool(g.abs().sum() > 0) for g in through)


def test_d_judges_reals_against_reconstructions_and_prior_samples_and_the_update_leaves_it_alone():
    params = _params()
    step = make_step(params, torch.device("cpu"))
    clips = torch.rand(4, 5, 3, 32, 32) * 2 - 1
    x, eps, z_prior = step.batch(clips, 0, 0)
    with torch.no_grad():  # bce by hand, from the networks before the update
        fakes = step.model.decoder(torch.cat([step.model.encode(x, eps)[0], z_prior]))
        (out,) = step.D([torch.cat([x, x, fakes])])
        want = F.softplus(-out[:8]).mean() + F.softplus(out[8:]).mean()
    after_d = {}
    hook = step.objective.after_discriminator_step
    step.objective.after_discriminator_step = lambda D: (hook(D), after_d.update(
        {k: (p.detach().clone(), p.grad.clone()) for k, p in D.named_parameters()}))
    logged = step.step(0, [clips])
    torch.testing.assert_close(logged["train/loss_d"], want, rtol=1e-5, atol=1e-6)
    # The encoder's and decoder's update added no gradient to D and moved none of its weights.
    for k, p in step.D.named_parameters():
        assert torch.equal(p, after_d[k][0]) and torch.equal(p.grad, after_d[k][1]), k
    assert set(logged) == {"train/loss_d", "train/loss_g", "train/kl", "train/likelihood", "train/d_accuracy"}


@pytest.mark.parametrize("kind", ["bce", "wgan_gp"])
def test_resumed_vaegan_run_equals_uninterrupted(data_dir, tmp_path, kind):
    # The encoder and decoder (one generator file), D, the optimisers, wgan_gp's draws.
    assert_resumes_exactly(_params(kind), data_dir, tmp_path)


def test_a_distributed_run_is_refused_in_one_line():
    with pytest.raises(ParamsError) as info:
        make_step(_params(), torch.device("cpu"), distributed=True, rank=0, world=2)
    assert str(info.value) == ("params.yaml: model.family: expected dcgan in a distributed run (VAE-GAN's networks "
                               "are not wrapped for one yet), got 'vaegan'")
