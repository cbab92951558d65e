"""pyext.augment: each transformation against its definition by hand (numpy), the same draws for a
batch split across processes, determinism, nothing changed without kinds, bad names refused."""
import numpy as np
import pytest
import torch

from pyext.augment import augment_clips
from pyext.config import AUGMENTATIONS


def _clips(b=16, t=5, h=8, w=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand((b, t, 3, h, w), generator=gen) * 2 - 1


def _matches(out, clips, candidates):
    """For each clip, the index of the candidate transformation (numpy functions of one clip) that
    gives its output; -1 if none does."""
    found = []
    for o, c in zip(out.numpy(), clips.numpy()):
        hits = [i for i, f in enumerate(candidates) if np.array_equal(o, f(c))]
        found.append(hits[0] if hits else -1)
    return found


def test_no_kinds_return_the_clips_themselves():
    clips = _clips()
    assert augment_clips(clips, (), colour=0.5, seed=(0, 0, 0)) is clips


def test_flip_mirrors_about_half_of_the_clips_left_right():
    clips = _clips(b=64)
    found = _matches(augment_clips(clips, ("flip",), 0.0, (1, 2, 3)), clips, [lambda c: c, lambda c: c[..., ::-1]])
    assert -1 not in found and 16 < sum(found) < 48


def test_rotate_turns_each_clip_by_a_multiple_of_90_degrees():
    clips = _clips(b=64)
    turns = [lambda c, k=k: np.rot90(c, k, axes=(-2, -1)) for k in range(4)]
    found = _matches(augment_clips(clips, ("rotate",), 0.0, (0, 5, 0)), clips, turns)
    assert -1 not in found and set(found) == {0, 1, 2, 3}


def test_rotate_keeps_the_shape_of_non_square_clips():
    clips = _clips(b=32, h=4, w=8)
    found = _matches(augment_clips(clips, ("rotate",), 0.0, (0, 1, 0)), clips,
                     [lambda c: c, lambda c: np.rot90(c, 2, axes=(-2, -1))])
    assert -1 not in found and set(found) == {0, 1}


def test_reverse_plays_clips_backwards():
    clips = _clips(b=64)
    found = _matches(augment_clips(clips, ("reverse",), 0.0, (0, 0, 1)), clips, [lambda c: c, lambda c: c[::-1]])
    assert -1 not in found and 16 < sum(found) < 48


def test_colour_is_a_per_clip_gain_and_offset_on_the_unit_scale():
    clips = _clips(b=32)
    c = 0.3
    out = augment_clips(clips, ("colour",), c, (4, 4, 4))
    assert out.abs().max() <= 1
    unit_in, unit_out = ((clips + 1) / 2).numpy(), ((out + 1) / 2).numpy()
    for x, y in zip(unit_in, unit_out):
        inside = (y > 1e-4) & (y < 1 - 1e-4)  # clamped values say nothing of the gain
        gains, offsets = [], []
        for ch in range(3):
            a, b = x[:, ch][inside[:, ch]], y[:, ch][inside[:, ch]]
            slope, intercept = np.polyfit(a, b, 1)  # y = gain * x + offset exactly, before clamping
            np.testing.assert_allclose(b, slope * a + intercept, atol=1e-5)
            gains.append(slope)
            offsets.append(intercept)
        assert all(1 - c - 1e-4 <= g <= 1 + c + 1e-4 for g in gains)
        assert np.ptp(offsets) < 1e-4 and abs(offsets[0]) <= c / 2 + 1e-4  # one offset for all channels
    assert not torch.equal(out, clips)


def test_the_same_transformation_for_every_frame():
    still = _clips(b=16, t=1).expand(-1, 5, -1, -1, -1)  # a clip of five equal frames stays so
    out = augment_clips(still, AUGMENTATIONS, 0.2, (0, 3, 1))
    assert torch.equal(out, out[:, :1].expand_as(out))


def test_deterministic_and_split_across_processes():
    clips = _clips(b=8)
    whole = augment_clips(clips, AUGMENTATIONS, 0.2, (7, 11, 0))
    assert torch.equal(whole, augment_clips(clips, AUGMENTATIONS, 0.2, (7, 11, 0)))
    assert not torch.equal(whole, augment_clips(clips, AUGMENTATIONS, 0.2, (7, 12, 0)))
    halves = [augment_clips(clips[r * 4:(r + 1) * 4], AUGMENTATIONS, 0.2, (7, 11, 0), offset=r * 4, total=8)
              for r in (0, 1)]
    assert torch.equal(torch.cat(halves), whole)


def test_one_kind_on_or_off_leaves_the_others_draws():
    clips = _clips(b=16)
    flipped = augment_clips(clips, ("flip",), 0.0, (2, 2, 2))
    both = augment_clips(clips, ("flip", "reverse"), 0.0, (2, 2, 2))
    reversed_only = augment_clips(clips, ("reverse",), 0.0, (2, 2, 2))
    assert torch.equal(both, augment_clips(flipped, ("reverse",), 0.0, (2, 2, 2)))
    assert torch.equal(both, augment_clips(reversed_only, ("flip",), 0.0, (2, 2, 2)))


def test_unknown_kind():
    with pytest.raises(ValueError, match="unknown augmentation 'mirror'"):
        augment_clips(_clips(), ("mirror",), 0.0, (0, 0, 0))
