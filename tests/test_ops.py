"""The native ops against the reference (forward and gradients), OpenCV, gradcheck and opcheck;
dtypes, devices, non-contiguous inputs, autocast, torch.compile and argument errors; the CUDA pyramid
kernel's phases, the CUDA GDL kernels' threads and the CUDA difference kernels run on the CPU (the
tests' library, the ``testing_ops`` fixture)."""
import itertools

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode

import pyext
from pyext import reference
from cases import (DEVICE_DTYPES, DEVICES, PYRAMID_AXES, PYRAMID_KINDS, assert_close, pyramid_op,
                   pyramid_output_sizes)

pyext.native_available()  # loads the extension, which fills torch.ops.beyondmse
ops = torch.ops.beyondmse


def test_native_ops_are_loaded():
    # Every comparison below would compare the reference with itself without the extension.
    assert pyext.native_available(), pyext.native_error()


def _rand(*shape, device="cpu", dtype=torch.float32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(tuple(shape), generator=gen, dtype=torch.float64).mul(2).sub(1).to(device=device, dtype=dtype)


def _grads(fn, *inputs):
    """Value and input gradients of sum(fn(*inputs) * fixed random weights)."""
    leaves = [x.detach().clone().requires_grad_(True) for x in inputs]
    out = fn(*leaves)
    weights = _rand(*out.shape, dtype=torch.float64, seed=99).to(out.device)
    (out.double() * weights).sum().backward()
    return out.detach(), [x.grad for x in leaves]


def _check_against_reference(native_fn, reference_fn, inputs, dtype, scale=1.0):
    """Native in ``dtype`` against the reference in float64, forward and gradients."""
    out, grads = _grads(native_fn, *inputs)
    ref_out, ref_grads = _grads(reference_fn, *[x.double() for x in inputs])
    assert out.dtype in (dtype, torch.float32, torch.float64)
    assert_close(out, ref_out, dtype, scale)
    for g, rg in zip(grads, ref_grads):
        assert g.dtype == dtype
        assert_close(g, rg, dtype, scale)


# ---------------------------------------------------------------- gdl_loss


@pytest.mark.parametrize("device,dtype", DEVICE_DTYPES)
@pytest.mark.parametrize("alpha", [1.0, 2.0, 1.5])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gdl_matches_reference(device, dtype, alpha, reduction):
    pred = _rand(2, 3, 3, 19, 23, device=device, dtype=dtype, seed=1)
    target = _rand(2, 3, 3, 19, 23, device=device, dtype=dtype, seed=2)
    scale = {"mean": 1.0, "sum": 3000.0, "none": 1000.0}[reduction]
    _check_against_reference(lambda p, t: pyext.gdl_loss(p, t, alpha, reduction),
                             lambda p, t: reference.gdl_loss(p, t, alpha, reduction), [pred, target], dtype, scale)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (7, 1), (2, 2), (4, 5, 1, 6), (3, 300)])
def test_gdl_degenerate_shapes(device, shape):
    pred, target = _rand(*shape, device=device, seed=3), _rand(*shape, device=device, seed=4)
    for reduction in ("sum", "none"):
        _check_against_reference(lambda p, t: pyext.gdl_loss(p, t, 1.0, reduction),
                                 lambda p, t: reference.gdl_loss(p, t, 1.0, reduction), [pred, target],
                                 torch.float32, 10.0)


@pytest.mark.parametrize("device", DEVICES)
def test_gdl_gradient_at_ties_is_zero_like_torch_abs(device):
    # Equal neighbours (|u| at 0) and |dt| == |dp| (the outer |.| at 0): subgradient 0, as torch.abs.
    target = torch.tensor([[0.0, 0.0, 1.0], [0.0, 2.0, 1.0]], device=device)
    pred = torch.tensor([[0.0, 0.0, -1.0], [1.0, 2.0, 1.0]], device=device)
    _check_against_reference(lambda p, t: pyext.gdl_loss(p, t, 1.0, "sum"),
                             lambda p, t: reference.gdl_loss(p, t, 1.0, "sum"), [pred, target], torch.float32)


def test_gdl_hand_computed_native():
    target = torch.eye(4).expand(1, 3, 4, 4)
    assert pyext.gdl_loss(torch.zeros(1, 3, 4, 4), target, reduction="sum").item() == 36.0


@pytest.mark.parametrize("alpha", [1.0, 1.7, 2.0])
def test_gdl_gradcheck(alpha):
    pred = _rand(2, 5, 6, dtype=torch.float64, seed=5).requires_grad_()
    target = _rand(2, 5, 6, dtype=torch.float64, seed=6).requires_grad_()
    assert torch.autograd.gradcheck(lambda p, t: pyext.gdl_loss(p, t, alpha, "none"), (pred, target))


def test_gdl_opcheck():
    pred, target = _rand(2, 3, 6, 7, seed=7), _rand(2, 3, 6, 7, seed=8)
    torch.library.opcheck(ops.gdl_loss.default, (pred.requires_grad_(), target.requires_grad_(), 1.0))
    torch.library.opcheck(ops.gdl_loss.default, (pred.detach().requires_grad_(), target.detach(), 1.5))
    grad = _rand(2, 3, seed=9)
    for mask in ([True, True], [True, False], [False, True], [False, False]):
        torch.library.opcheck(ops.gdl_loss_backward.default, (grad, pred.detach(), target.detach(), 2.0, mask))


@pytest.mark.parametrize("device,dtype", DEVICE_DTYPES)
@pytest.mark.parametrize("mask", [(True, False), (False, True), (True, True), (False, False)])
def test_gdl_backward_computes_only_the_wanted_gradients(device, dtype, mask):
    pred = _rand(2, 3, 9, 11, device=device, dtype=dtype, seed=31)
    target = _rand(2, 3, 9, 11, device=device, dtype=dtype, seed=32)
    grad = _rand(2, 3, device=device, seed=33)
    got = ops.gdl_loss_backward(grad, pred, target, 1.5, list(mask))
    leaves = [x.double().requires_grad_() for x in (pred, target)]
    (reference.gdl_loss(*leaves, 1.5, "none") * grad.double()).sum().backward()
    for wanted, g, leaf in zip(mask, got, leaves):
        if wanted:
            assert g.dtype == dtype
            assert_close(g, leaf.grad, dtype)
        else:
            assert g is None


class _BackwardMasks(TorchDispatchMode):
    """Records the output_mask and the outputs of every gdl_loss_backward call."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func is ops.gdl_loss_backward.default:
            self.calls.append((list(args[4]), [o is None for o in out]))
        return out


@pytest.mark.parametrize("device", DEVICES)
def test_gdl_autograd_skips_the_target_gradient_when_not_needed(device):
    pred = _rand(2, 3, 8, 9, device=device, seed=34).requires_grad_()
    target = _rand(2, 3, 8, 9, device=device, seed=35)
    with _BackwardMasks() as record:
        pyext.gdl_loss(pred, target).backward()
    assert record.calls == [([True, False], [False, True])]
    ref = pred.detach().double().requires_grad_()
    reference.gdl_loss(ref, target.double()).backward()
    assert_close(pred.grad, ref.grad, torch.float32)
    # Target alone, as when a loss's target comes from a network and the prediction is fixed.
    target.requires_grad_()
    with _BackwardMasks() as record:
        pyext.gdl_loss(pred.detach(), target).backward()
    assert record.calls == [([False, True], [True, False])]


@settings(max_examples=30, deadline=None)
@given(lead=st.lists(st.integers(1, 3), max_size=2), h=st.integers(1, 40), w=st.integers(1, 40),
       alpha=st.sampled_from([1.0, 2.0, 1.25]), seed=st.integers(0, 2**16))
def test_gdl_property_random_shapes(lead, h, w, alpha, seed):
    pred = _rand(*lead, h, w, dtype=torch.float64, seed=seed)
    target = _rand(*lead, h, w, dtype=torch.float64, seed=seed + 1)
    _check_against_reference(lambda p, t: pyext.gdl_loss(p, t, alpha, "none"),
                             lambda p, t: reference.gdl_loss(p, t, alpha, "none"), [pred, target], torch.float64)


# The CUDA GDL kernels' per-thread work runs on the CPU (csrc/gdl/gdl_strips.h): both vector widths,
# strips of one row to more than the image, one and several blocks per image (the grid-stride loop),
# thread counts that do not divide the work. Gradients start as NaN: every element must be written.
_STRIP_LAUNCHES = [(4, 0, 1, 256), (4, 1, 2, 3), (4, 3, 1, 1), (4, 32, 2, 33), (1, 0, 1, 256), (1, 2, 3, 7)]


@pytest.mark.parametrize("alpha", [1.0, 2.0, 1.5])
def test_cuda_gdl_kernel_threads_on_the_cpu_match_the_cpu_kernel(testing_ops, alpha):
    for h, w in itertools.product([1, 2, 3, 5, 8, 17, 40], [1, 2, 3, 4, 5, 8, 12, 36, 41]):
        pred, target = _rand(3, h, w, dtype=torch.float64, seed=h * 100 + w), _rand(3, h, w, dtype=torch.float64)
        grad = _rand(3, dtype=torch.float64, seed=5)
        expected = ops.gdl_loss(pred, target, alpha), *ops.gdl_loss_backward(grad, pred, target, alpha, [True, True])
        for vector, strip, blocks, threads in _STRIP_LAUNCHES:
            if w % vector:
                continue
            got = testing_ops.gdl_strip_kernel_on_cpu(pred, target, alpha, grad, vector, strip, blocks, threads)
            for name, a, b in zip(("loss", "pred's gradient", "target's gradient"), got, expected):
                torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12, msg=lambda m: (
                    f"{name} of {h}x{w}, vector {vector}, strip {strip}, {blocks} x {threads} threads: {m}"))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_cuda_gdl_kernel_threads_on_the_cpu_in_low_precision(testing_ops, dtype):
    pred, target = _rand(2, 3, 64, 48, dtype=dtype, seed=21), _rand(2, 3, 64, 48, dtype=dtype, seed=22)
    grad = torch.ones(2, 3)
    loss, gp, gt = testing_ops.gdl_strip_kernel_on_cpu(pred, target, 1.0, grad, 4, 0, 2, 256)
    ref_p, ref_t = pred.double().requires_grad_(), target.double().requires_grad_()
    ref = reference.gdl_loss(ref_p, ref_t, 1.0, "none")
    ref.sum().backward()
    assert gp.dtype == gt.dtype == dtype and loss.dtype == torch.float32
    assert_close(loss, ref, dtype, 64 * 48 / 10)
    assert_close(gp, ref_p.grad, dtype)
    assert_close(gt, ref_t.grad, dtype)


# ---------------------------------------------------------------- pyramid

PYRAMID_SIZES = [(1, 1), (1, 6), (5, 1), (2, 3), (7, 9), (16, 16), (33, 20), (6, 131)]  # 131: a long interior


@pytest.mark.parametrize("device,dtype", DEVICE_DTYPES)
@pytest.mark.parametrize("h,w", PYRAMID_SIZES)
def test_pyr_down_matches_reference(device, dtype, h, w):
    x = _rand(2, 3, h, w, device=device, dtype=dtype, seed=h * w)
    _check_against_reference(pyext.pyr_down, reference.pyr_down, [x], dtype)


@pytest.mark.parametrize("device,dtype", DEVICE_DTYPES)
@pytest.mark.parametrize("h,w", PYRAMID_SIZES)
def test_pyr_up_matches_reference_every_size(device, dtype, h, w):
    x = _rand(2, 3, h, w, device=device, dtype=dtype, seed=h + w)
    for size in [(2 * h, 2 * w), (2 * h - 1, 2 * w), (2 * h, 2 * w - 1), (2 * h - 1, 2 * w - 1)]:
        _check_against_reference(lambda t: pyext.pyr_up(t, size), lambda t: reference.pyr_up(t, size), [x],
                                 dtype, 4.0)


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 64), w=st.integers(1, 64), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**16))
def test_pyramid_ops_match_opencv(h, w, dtype, seed):
    image = np.random.default_rng(seed).random((h, w)).astype(dtype)
    atol = 1e-6 if dtype == np.float32 else 1e-12
    down = pyext.pyr_down(torch.from_numpy(image)).numpy()
    np.testing.assert_allclose(down, cv2.pyrDown(image), rtol=0, atol=atol)
    for out_h in (2 * h - 1, 2 * h):
        for out_w in (2 * w - 1, 2 * w):
            up = pyext.pyr_up(torch.from_numpy(image), (out_h, out_w)).numpy()
            np.testing.assert_allclose(up, cv2.pyrUp(image, dstsize=(out_w, out_h)), rtol=0, atol=4 * atol)


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 24), w=st.integers(1, 24), crop_h=st.booleans(), crop_w=st.booleans(),
       seed=st.integers(0, 2**16))
def test_pyramid_gradients_property(h, w, crop_h, crop_w, seed):
    x = _rand(2, h, w, dtype=torch.float64, seed=seed)
    size = (2 * h - crop_h, 2 * w - crop_w)
    _check_against_reference(pyext.pyr_down, reference.pyr_down, [x], torch.float64)
    _check_against_reference(lambda t: pyext.pyr_up(t, size), lambda t: reference.pyr_up(t, size), [x],
                             torch.float64)


def test_pyramid_gradcheck_and_gradgradcheck():
    x = _rand(2, 7, 6, dtype=torch.float64, seed=11).requires_grad_()
    for fn in (pyext.pyr_down, lambda t: pyext.pyr_up(t, (13, 12)), lambda t: pyext.laplacian_pyramid(t, 3)[0]):
        assert torch.autograd.gradcheck(fn, (x,))
        assert torch.autograd.gradgradcheck(fn, (x,))


def test_pyramid_opcheck():
    x = _rand(2, 3, 9, 8, seed=12).requires_grad_()
    torch.library.opcheck(ops.pyr_down.default, (x,))
    torch.library.opcheck(ops.pyr_up.default, (x, 17, 16))
    torch.library.opcheck(ops.pyr_down_backward.default, (_rand(2, 3, 5, 4, seed=13).requires_grad_(), 9, 8))
    torch.library.opcheck(ops.pyr_up_backward.default, (_rand(2, 3, 17, 16, seed=14).requires_grad_(), 9, 8))


# The CUDA kernel's phases run on the CPU (csrc/pyramid/pyramid_tile.h): every kind and axis length,
# the launch's own tiles and small ones (many border and interior tiles), a thread count that does
# not divide the work, few blocks along y (the tile loop), threads in reverse order.
_TILE_LAUNCHES = [((0, 0), 256, 65535, False), ((2, 4), 7, 3, True), ((16, 32), 33, 2, False), ((1, 1), 1, 1, True)]


@pytest.mark.parametrize("op", list(PYRAMID_KINDS))
def test_cuda_pyramid_kernel_phases_on_the_cpu_match_the_cpu_kernel(testing_ops, op):
    for h, w in itertools.product(PYRAMID_AXES, PYRAMID_AXES):
        x = _rand(2, h, w, dtype=torch.float64, seed=h * 1000 + w)
        for out_h, out_w in itertools.product(pyramid_output_sizes(op, h), pyramid_output_sizes(op, w)):
            expected = pyramid_op(op, x, out_h, out_w)
            for (tile_h, tile_w), threads, grid_y, reverse in _TILE_LAUNCHES:
                got = testing_ops.pyramid_tile_kernel_on_cpu(x, PYRAMID_KINDS[op], out_h, out_w, tile_h, tile_w,
                                                             threads, grid_y, reverse)
                assert got.shape == expected.shape
                torch.testing.assert_close(got, expected, rtol=0, atol=1e-12, msg=lambda m: (
                    f"{op} {h}x{w} -> {out_h}x{out_w}, tile {tile_h}x{tile_w}, {threads} threads: {m}"))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_cuda_pyramid_kernel_phases_on_the_cpu_in_low_precision(testing_ops, dtype):
    x = _rand(3, 70, 45, dtype=dtype, seed=16)
    for op, size in [("pyr_down", (35, 23)), ("pyr_up", (139, 90))]:
        got = testing_ops.pyramid_tile_kernel_on_cpu(x, PYRAMID_KINDS[op], *size, 0, 0, 256, 65535, False)
        assert got.dtype == dtype
        assert_close(got, getattr(reference, op)(x.double(), *([size] if op == "pyr_up" else [])), dtype, 4.0)


def test_cuda_pyramid_kernel_phases_read_only_staged_inputs(testing_ops):
    # A bad kind or tile is refused by name, and shared memory starts as NaN: an output that read an
    # unstaged value would be NaN.
    with pytest.raises(RuntimeError, match="kind must be 0 .. 3"):
        testing_ops.pyramid_tile_kernel_on_cpu(torch.zeros(4, 4), 4, 2, 2, 0, 0, 256, 1, False)
    with pytest.raises(RuntimeError, match="pyr_up height size 5 does not fit"):
        testing_ops.pyramid_tile_kernel_on_cpu(torch.zeros(4, 4), 1, 5, 8, 0, 0, 256, 1, False)
    out = testing_ops.pyramid_tile_kernel_on_cpu(torch.ones(1, 33, 33), 0, 17, 17, 4, 4, 5, 2, True)
    assert torch.equal(out, torch.ones(1, 17, 17))


@pytest.mark.parametrize("device", DEVICES)
def test_pyramid_rejects_axes_beyond_the_kernels_limit_before_allocating(device):
    # Stride-0 views of one element: made contiguous, any of them would need terabytes, so only a
    # check that reads the sizes before copying or allocating can raise these errors.
    one = torch.zeros(1, 1, device=device)
    tall = one.expand(2**29 + 1, 2**12)
    with pytest.raises(RuntimeError, match=r"pyr_down height 536870913 is longer than the kernels' limit"):
        pyext.pyr_down(tall)
    wide = one.expand(2**12, 2**28 + 1)  # a valid input whose pyr_up output is too wide
    with pytest.raises(RuntimeError, match=r"pyr_up width 536870914 is longer than the kernels' limit"):
        pyext.pyr_up(wide)
    with pytest.raises(RuntimeError, match=r"pyr_down_backward width 536870913 is longer"):
        ops.pyr_down_backward(one.expand(2**12, 2**28 + 1), 2**13, 2**29 + 1)


@pytest.mark.parametrize("device,dtype", DEVICE_DTYPES)
def test_laplacian_pyramid_matches_reference_and_inverts(device, dtype):
    x = _rand(2, 3, 37, 50, device=device, dtype=dtype, seed=15)
    levels = pyext.laplacian_pyramid(x, 4)
    expected = reference.laplacian_pyramid(x.double(), 4)
    assert [tuple(t.shape[-2:]) for t in levels] == [(37, 50), (19, 25), (10, 13), (5, 7)]
    for level, ref in zip(levels, expected):
        assert level.dtype == dtype
        assert_close(level, ref, dtype, 4.0)
    assert_close(pyext.laplacian_reconstruct(levels), x, dtype, 4.0)
    gauss = pyext.gaussian_pyramid(x, 4)
    for level, ref in zip(gauss, reference.gaussian_pyramid(x.double(), 4)):
        assert_close(level, ref, dtype)


def test_laplacian_reconstruct_is_exact_in_float64():
    x = _rand(3, 2, 45, 31, dtype=torch.float64, seed=16)
    torch.testing.assert_close(pyext.laplacian_reconstruct(pyext.laplacian_pyramid(x, 5)), x, rtol=0, atol=1e-13)


def test_pyramid_levels_one_is_the_input():
    x = _rand(1, 3, 8, 8, seed=17)
    assert pyext.gaussian_pyramid(x, 1)[0] is x
    assert pyext.laplacian_reconstruct(pyext.laplacian_pyramid(x, 1)) is x


# ---------------------------------------------------------------- structure_loss


@pytest.mark.parametrize("device,dtype", DEVICE_DTYPES)
@pytest.mark.parametrize("n,shape_x,d", [(1, (3,), 2), (5, (2, 3, 3), 4), (37, (3, 9, 11), 67)])
def test_structure_loss_matches_reference(device, dtype, n, shape_x, d):
    x = _rand(n, *shape_x, device=device, dtype=dtype, seed=n)
    z = _rand(n, d, device=device, dtype=dtype, seed=n + 1)
    _check_against_reference(pyext.structure_loss, reference.structure_loss, [x, z], dtype, 10.0)


@pytest.mark.parametrize("device,dtype", DEVICE_DTYPES)
def test_pairwise_sqdist_matches_reference(device, dtype):
    # Sizes that are not multiples of any block or chunk, with a large common offset.
    x = (_rand(41, 1029, seed=18) + 50.0).to(device=device, dtype=dtype)
    _check_against_reference(ops.pairwise_sqdist, reference.pairwise_sqdist, [x], dtype, 100.0)


def test_structure_loss_gradcheck():
    x = _rand(6, 2, 5, dtype=torch.float64, seed=19).requires_grad_()
    z = _rand(6, 3, dtype=torch.float64, seed=20).requires_grad_()
    assert torch.autograd.gradcheck(pyext.structure_loss, (x, z))


# The distances' stated bound (csrc/structure/structure_gemm.h): every entry within
# tol * (mean(d) + d[i, j]) of the exact distance, whichever form computed it.
SQDIST_BOUND = {torch.float64: 2.0**-40, torch.float32: 2.0**-16, torch.float16: 2.0**-16, torch.bfloat16: 2.0**-16}


def _structure_rows(kind, n=48, d=300, seed=0):
    """(n, d) float64 rows: ordinary, near-duplicate pairs, or near-duplicate pairs far off the origin."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, d, generator=gen, dtype=torch.float64)
    if kind != "ordinary":
        x[1::2] = x[::2] + 1e-4 * torch.randn(n // 2, d, generator=gen, dtype=torch.float64)
    return x + 50.0 if kind == "offset near-duplicate" else x


def _assert_within_sqdist_bound(d, exact, dtype):
    assert torch.equal(d.diagonal(), torch.zeros_like(d.diagonal())) and bool((d >= 0).all())
    error = (d.double().cpu() - exact).abs()
    assert bool((error <= SQDIST_BOUND[dtype] * (exact.mean() + exact)).all()), float(
        (error / (exact.mean() + exact)).max())


@pytest.mark.parametrize("device,dtype", DEVICE_DTYPES)
@pytest.mark.parametrize("kind", ["ordinary", "near-duplicate", "offset near-duplicate"])
def test_pairwise_sqdist_meets_its_bound_on_near_duplicate_rows(device, dtype, kind):
    x = _structure_rows(kind).to(dtype)
    exact = reference.pairwise_sqdist(x.double())
    _assert_within_sqdist_bound(ops.pairwise_sqdist(x.to(device)), exact, dtype)
    # Gradients against the float64 reference, through the loss's own weighting of the distances.
    z = _rand(48, 5, dtype=torch.float64, seed=36)
    _check_against_reference(pyext.structure_loss, reference.structure_loss, [x.to(device), z.to(device, dtype)],
                             dtype, 10.0)


@pytest.mark.parametrize("device", DEVICES)
def test_pairwise_sqdist_keeps_the_difference_form_where_the_gemm_form_cancels(device):
    # Rows +-4097, +-4098 among 4092 zero rows: the mean is exactly 0, so centring changes nothing,
    # and d[0, 1] = (4097 - 4098)^2 = 1. The GEMM form computes it as 4097^2 + 4098^2 - 2 * 4097 * 4098,
    # and 4097^2 = 16785409 is no float32 (odd, above 2^24): it gives 0 or 2, an error of 1 against a
    # bound of 2^-16 * (mean(d) + 1) < 0.7. Its error check must reject it.
    x = torch.zeros(4096, 1)
    x[:4, 0] = torch.tensor([4097.0, 4098.0, -4097.0, -4098.0])
    d = ops.pairwise_sqdist(x.to(device)).cpu()
    assert d[0, 1] == 1 and d[2, 3] == 1
    exact = (x[:4].double() - x.double().t()).pow(2)  # the first 4 rows; the others are 0 or x[k]^2
    mean = 2 * x.double().pow(2).mean()  # mean of d over all pairs of centred rows
    error = (d[:4].double() - exact).abs()
    assert bool((error <= SQDIST_BOUND[torch.float32] * (mean + exact)).all())
    torch.testing.assert_close(d[4:, 4:], torch.zeros(4092, 4092), rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
def test_cuda_difference_kernels_on_the_cpu_match_the_reference(testing_ops, dtype):
    # The CUDA difference kernels' phases run on the CPU (csrc/structure/structure_tiles.h): one
    # tile and several, partial tiles, feature splits (5 x 2000: 8 splits; 40 x 1100: 5), threads
    # in order and reversed. Distances start as NaN: the mirrored stores must fill every entry.
    for n, d in [(1, 1), (2, 3), (33, 40), (65, 300), (5, 2000), (40, 1100)]:
        x, grad = _rand(n, d, dtype=dtype, seed=n + d), _rand(n, n, dtype=torch.float64, seed=n)
        ref_x = x.double().requires_grad_()
        ref = reference.pairwise_sqdist(ref_x)
        ref.backward(grad)
        for reverse in (False, True):
            out, grad_x = testing_ops.sqdist_difference_kernels_on_cpu(x, grad, reverse)
            assert out.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
            assert grad_x.dtype == dtype
            assert_close(out, ref, dtype, 4.0)
            assert_close(grad_x, ref_x.grad, dtype, n * 4.0)


def test_structure_opcheck():
    x = _rand(9, 13, seed=21).requires_grad_()
    torch.library.opcheck(ops.pairwise_sqdist.default, (x,))
    torch.library.opcheck(ops.pairwise_sqdist_backward.default, (_rand(9, 9, seed=22), x.detach()))


# ---------------------------------------------------------------- every op: layouts, dtypes, compile


def _all_ops(x, y, z):
    """Every public op once; x, y (B, T, 3, H, W), z (B, d)."""
    bands = pyext.laplacian_pyramid(x, 3)
    return [
        pyext.gdl_loss(x, y),
        pyext.pyr_down(x),
        pyext.pyr_up(x, (2 * x.shape[-2] - 1, 2 * x.shape[-1])),
        *pyext.gaussian_pyramid(y, 3)[1:],  # level 0 is y itself
        *bands,
        pyext.laplacian_reconstruct(bands),
        pyext.structure_loss(x, z),
    ]


def _inputs(device="cpu", dtype=torch.float32):
    return (_rand(2, 2, 3, 12, 10, device=device, dtype=dtype, seed=23),
            _rand(2, 2, 3, 12, 10, device=device, dtype=dtype, seed=24),
            _rand(2, 5, device=device, dtype=dtype, seed=25))


@pytest.mark.parametrize("device", DEVICES)
def test_non_contiguous_inputs(device):
    x, y, z = _inputs(device)
    # Same values, strided layouts: transposed images, every second element, transposed codes.
    x_nc = x.transpose(-1, -2).contiguous().transpose(-1, -2)
    y_nc = torch.stack([y, y], dim=-1)[..., 0]
    z_nc = z.t().contiguous().t()
    assert not (x_nc.is_contiguous() or y_nc.is_contiguous() or z_nc.is_contiguous())
    for a, b in zip(_all_ops(x_nc, y_nc, z_nc), _all_ops(x, y, z)):
        torch.testing.assert_close(a, b)


def test_mixed_float_dtypes_promote_to_the_wider():
    x, y, z = _inputs()
    loss = pyext.gdl_loss(x, y.double())
    assert loss.dtype == torch.float64
    torch.testing.assert_close(loss, reference.gdl_loss(x.double(), y.double()))
    assert pyext.structure_loss(x.double(), z).dtype == torch.float64


def test_half_precision_on_cpu_computes_in_float32():
    x, y, z = _inputs()
    for low in (torch.float16, torch.bfloat16):
        outs = _all_ops(x.to(low), y.to(low), z.to(low))
        assert all(o.dtype == low for o in outs)
        # Composite ops round their intermediate levels to the low dtype: compare at its precision.
        for a, b in zip(outs, _all_ops(x.to(low).float(), y.to(low).float(), z.to(low).float())):
            torch.testing.assert_close(a.float(), b, rtol=2e-2, atol=2e-2)


def test_cpu_kernels_take_bfloat16_and_round_each_output_once():
    # The pyramid and GDL CPU kernels read bfloat16 directly and compute in float32: each element of
    # their output is the float32 kernel's on the same (exactly widened) values, rounded once to
    # nearest even, as torch's cast rounds. Sums over an image may add in another order (their
    # vector width differs). A NaN stays a NaN.
    dtype = torch.bfloat16
    x, y = _rand(2, 3, 21, 70, seed=40), _rand(2, 3, 21, 70, seed=41)
    x[0, 0, 3, 5] = float("nan")
    a, b = x.to(dtype), y.to(dtype)
    for op in (lambda t: ops.pyr_down(t), lambda t: ops.pyr_up(t, 41, 140),
               lambda t: ops.pyr_down_backward(t, 41, 139), lambda t: ops.pyr_up_backward(t, 11, 35)):
        out, want = op(a), op(a.float()).to(dtype)
        assert out.dtype == dtype and torch.equal(out.isnan(), want.isnan()) and bool(want.isnan().any())
        assert torch.equal(out.nan_to_num(), want.nan_to_num())
    a = y.flip(-1).to(dtype)  # no NaN for the loss
    grad = _rand(2, 3, seed=42)
    for alpha in (1.0, 1.5, 2.0):
        loss = ops.gdl_loss(a, b, alpha)
        assert loss.dtype == torch.float32
        torch.testing.assert_close(loss, ops.gdl_loss(a.float(), b.float(), alpha), rtol=1e-6, atol=0)
        for got, want in zip(ops.gdl_loss_backward(grad, a, b, alpha, [True, True]),
                             ops.gdl_loss_backward(grad, a.float(), b.float(), alpha, [True, True])):
            assert got.dtype == dtype and torch.equal(got, want.to(dtype))
    # Through the Python fronts and autograd, against the float64 reference.
    _check_against_reference(pyext.pyr_down, reference.pyr_down, [a], dtype)
    _check_against_reference(lambda p, t: pyext.gdl_loss(p, t, 1.0), lambda p, t: reference.gdl_loss(p, t, 1.0),
                             [a, b], dtype)


@pytest.mark.parametrize("device", DEVICES)
def test_autocast_computes_in_float32(device):
    x, y, z = _inputs(device)
    with torch.autocast(device, dtype=torch.bfloat16):
        outs = _all_ops(x.bfloat16(), y.bfloat16(), z.bfloat16())
        direct = ops.pyr_down(x.bfloat16())
    assert direct.dtype == torch.float32  # register_autocast casts the op's inputs
    assert outs[0].dtype == torch.float32 and outs[-1].dtype == torch.float32
    expected = _all_ops(x.bfloat16().float(), y.bfloat16().float(), z.bfloat16().float())
    for a, b in zip(outs, expected):
        assert a.dtype == torch.float32
        torch.testing.assert_close(a, b)


def test_torch_compile_fullgraph():
    x, y, z = _inputs()
    x.requires_grad_()
    compiled = torch.compile(_all_ops, fullgraph=True, dynamic=False)
    outs = compiled(x, y, z)
    sum(o.sum() for o in outs).backward()
    grad = x.grad.clone()
    x.grad = None
    eager = _all_ops(x, y, z)
    sum(o.sum() for o in eager).backward()
    for a, b in zip(outs, eager):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(grad, x.grad)


# ---------------------------------------------------------------- argument errors


def test_errors_name_the_argument():
    x, y, z = _inputs()
    cases = [
        (lambda: pyext.gdl_loss(x, y[..., :5]), ValueError, "same shape"),
        (lambda: pyext.gdl_loss(x, y, alpha=0.5), ValueError, "alpha must be a number >= 1"),
        (lambda: pyext.gdl_loss(x, y, alpha="1"), ValueError, "alpha"),
        (lambda: pyext.gdl_loss(x, y, reduction="max"), ValueError, "reduction"),
        (lambda: pyext.gdl_loss(x[0, 0, 0, 0], y[0, 0, 0, 0]), ValueError, "pred must have at least 2 dims"),
        (lambda: pyext.gdl_loss(x.numpy(), y), TypeError, "pred must be a torch.Tensor"),
        (lambda: pyext.gdl_loss(x, y.to(torch.int64)), TypeError, "target must be a floating-point"),
        (lambda: pyext.gdl_loss(x, y.to("meta")), ValueError, "same device"),
        (lambda: pyext.pyr_up(x, (25, 20)), ValueError, "size must be"),
        (lambda: pyext.pyr_up(x, (24,)), TypeError, "size must be a pair"),
        (lambda: pyext.pyr_down(torch.zeros(5)), ValueError, "x must have at least 2 dims"),
        (lambda: pyext.gaussian_pyramid(x, 0), ValueError, "levels"),
        (lambda: pyext.laplacian_pyramid(x, 2.0), ValueError, "levels"),
        (lambda: pyext.laplacian_reconstruct([]), ValueError, "non-empty"),
        (lambda: pyext.laplacian_reconstruct([x, x]), ValueError, r"pyramid\[1\] must have shape"),
        (lambda: pyext.structure_loss(x, z[:1]), ValueError, "same batch size"),
        (lambda: pyext.structure_loss(x[:0], z[:0]), ValueError, "at least one sample"),
        (lambda: pyext.structure_loss(x, z, eps=0), ValueError, "eps"),
        (lambda: pyext.structure_loss(x, z.to("meta")), ValueError, "same device"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()


def test_native_ops_check_their_arguments():
    x, y, _ = _inputs()
    with pytest.raises(RuntimeError, match="same shape"):
        ops.gdl_loss(x, y[..., :5], 1.0)
    with pytest.raises(RuntimeError, match="alpha must be >= 1"):
        ops.gdl_loss(x, y, 0.0)
    with pytest.raises(RuntimeError, match="does not fit"):
        ops.pyr_up(x, 30, 20)
    with pytest.raises(RuntimeError, match="2-D"):
        ops.pairwise_sqdist(x)
    with pytest.raises(RuntimeError, match="one value per image"):
        ops.gdl_loss_backward(torch.ones(3), x, y, 1.0, [True, True])
