"""Error of the pairwise squared distances against float64, for the bound in
csrc/structure/structure_gemm.h.

For each kind of rows (ordinary, offset, near-duplicate pairs, rows near one point, outliers,
norms over three decades) and shape, in float32: the largest error of an entry over
``mean(d) + d[i, j]`` (what the structure loss's log1p(d / mean(d)) feels) for the GEMM form alone,
for the native op (the GEMM form where its check passes, differences elsewhere), and the GEMM
form's error estimate ``u (sqrt(D) + 2) max_ij (q_i + q_j) / (mean(d) + d[i, j])`` that the check
compares with the bound 2^-16; then the backward's error over the largest gradient, GEMM form and
difference form.

    python -m experiments.sqdist_error
"""
from __future__ import annotations

import math

import torch

import pyext.ops  # noqa: F401  (loads torch.ops.beyondmse)
from pyext import reference

U = 2.0**-24  # float32 unit roundoff


def gemm_form(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The GEMM form's distances of x (N, D) in x's dtype, and q_i = |y_i|^2 / D of the centred rows."""
    y = x - x.mean(0)
    d = y @ y.t()
    q = d.diagonal() / x.shape[1]
    d = (q[:, None] + q[None] - 2 * d / x.shape[1]).clamp_min(0)
    return d.fill_diagonal_(0), q


def rows(kind: str, n: int, d: int, gen: torch.Generator) -> torch.Tensor:
    x = torch.rand(n, d, generator=gen, dtype=torch.float64)
    if kind == "offset +50":
        x += 50
    elif kind == "near-duplicate pairs":
        x[1::2] = x[::2] + 1e-4 * torch.randn(n // 2, d, generator=gen, dtype=torch.float64)
    elif kind == "near one point":
        x = x[:1] + 1e-3 * torch.randn(n, d, generator=gen, dtype=torch.float64)
    elif kind == "one outlier +100":
        x[0] += 100
    elif kind == "near-duplicate outliers":
        x[:2] = 1e4 + x[0] + 1e-2 * torch.randn(2, d, generator=gen, dtype=torch.float64)
    elif kind == "norms over 3 decades":
        x *= torch.logspace(0, 3, n, dtype=torch.float64)[:, None]
    return x


def main() -> None:
    gen = torch.Generator().manual_seed(0)
    kinds = ["ordinary", "offset +50", "near-duplicate pairs", "near one point", "one outlier +100",
             "near-duplicate outliers", "norms over 3 decades"]
    print("| rows | N | D | GEMM form | native op | estimate | backward: GEMM form | difference form |")
    print("|" + "---|" * 8)
    for n, d in [(64, 512), (256, 512), (1024, 128), (128, 4096)]:
        for kind in kinds:
            x = rows(kind, n, d, gen).float().double()  # exactly the float32 inputs
            exact = reference.pairwise_sqdist(x)
            scale = exact.mean() + exact
            gemm, q = gemm_form(x.float())
            native = torch.ops.beyondmse.pairwise_sqdist(x.float())
            pair = q.double()[:, None] + q.double()[None]
            estimate = U * (math.sqrt(d) + 2) * float((pair.fill_diagonal_(0) / scale).max())
            sym = torch.randn(n, n, generator=gen, dtype=torch.float64)
            sym = sym + sym.t()
            y = x - x.mean(0)
            exact_grad = (2 / d) * (sym.sum(1, keepdim=True) * y - sym @ y)
            yf, sf = y.float(), sym.float()
            gemm_grad = (2 / d) * (sf.sum(1, keepdim=True) * yf - sf @ yf)
            old = torch.get_float32_matmul_precision()
            torch.set_float32_matmul_precision("medium")  # the op's difference kernel runs at reduced precision
            try:
                diff_grad = torch.ops.beyondmse.pairwise_sqdist_backward(sf / 2, x.float())
            finally:
                torch.set_float32_matmul_precision(old)
            top = exact_grad.abs().max()

            def rel(d_):
                return float(((d_.double() - exact).abs() / scale).max())

            print(f"| {kind} | {n} | {d} | {rel(gemm):.1e} | {rel(native):.1e} | {estimate:.1e} | "
                  f"{float((gemm_grad.double() - exact_grad).abs().max() / top):.1e} | "
                  f"{float((diff_grad.double() - exact_grad).abs().max() / top):.1e} |", flush=True)


if __name__ == "__main__":
    main()
