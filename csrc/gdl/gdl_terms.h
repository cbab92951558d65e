// One term of the gradient difference loss (Mathieu et al. 2016, eq. 5) and its derivatives,
// shared by the CPU and CUDA kernels.
//
// A term compares a target difference dt = t[a] - t[b] with the prediction's dp = p[a] - p[b] of
// the same neighbouring pixels a, b: | |dt| - |dp| |^alpha. Subgradients of |u| at 0 are 0, as in
// torch.abs.
#pragma once

#include <array>
#include <cmath>
#include <optional>
#include <tuple>
#include <type_traits>

#include "../common.h"

namespace beyondmse {

// Exponents with a fast path: alpha == 1 (the paper's default) and alpha == 2 need no pow().
enum class Exponent : int { One = 1, Two = 2, General = 0 };

inline Exponent classify_alpha(double alpha) {
  return alpha == 1.0 ? Exponent::One : alpha == 2.0 ? Exponent::Two : Exponent::General;
}

template <typename A>
BMSE_HD A sign_of(A u) {
  return static_cast<A>((u > A(0)) - (u < A(0)));
}

template <Exponent E, typename A>
BMSE_HD A gdl_term(A dt, A dp, A alpha) {
  const A e = std::abs(std::abs(dt) - std::abs(dp));
  if (E == Exponent::One) return e;
  if (E == Exponent::Two) return e * e;
  return std::pow(e, alpha);
}

// Derivatives of the term with respect to dt and dp.
template <Exponent E, typename A>
BMSE_HD void gdl_term_grad(A dt, A dp, A alpha, A& d_dt, A& d_dp) {
  const A e = std::abs(dt) - std::abs(dp);
  A c;  // d term / d e
  if (E == Exponent::One) {
    c = sign_of(e);
  } else if (E == Exponent::Two) {
    c = A(2) * e;
  } else {
    // e == 0 guarded: pow(0, 0) is NaN in fast-math builds when alpha - 1 rounds to 0.
    c = e == A(0) ? A(0) : alpha * std::pow(std::abs(e), alpha - A(1)) * sign_of(e);
  }
  d_dt = c * sign_of(dt);
  d_dp = -c * sign_of(dp);
}

// Calls fn(std::integral_constant<Exponent, E>{}) with the exponent class of alpha, so kernels are
// specialised for the fast paths.
template <typename F>
void dispatch_exponent(double alpha, F&& fn) {
  switch (classify_alpha(alpha)) {
    case Exponent::One:
      return fn(std::integral_constant<Exponent, Exponent::One>{});
    case Exponent::Two:
      return fn(std::integral_constant<Exponent, Exponent::Two>{});
    default:
      return fn(std::integral_constant<Exponent, Exponent::General>{});
  }
}

// Calls fn(std::bool_constant<pred>{}, std::bool_constant<target>{}) with the input gradients a
// backward computes (at least one: with none wanted the kernels are not launched).
template <typename F>
void dispatch_wanted(std::array<bool, 2> mask, F&& fn) {
  if (mask[0] && mask[1]) return fn(std::true_type{}, std::true_type{});
  if (mask[0]) return fn(std::true_type{}, std::false_type{});
  return fn(std::false_type{}, std::true_type{});
}

// The backward's outputs: an empty tensor like x where wanted, none where not.
using OptionalGrads = std::tuple<std::optional<at::Tensor>, std::optional<at::Tensor>>;
inline std::optional<at::Tensor> empty_if(bool wanted, const at::Tensor& x) {
  return wanted ? std::optional<at::Tensor>(at::empty_like(x)) : std::nullopt;
}

// A data pointer of an optional gradient (nullptr where it is not wanted).
template <typename T>
T* data_or_null(std::optional<at::Tensor>& t) {
  return t.has_value() ? t->mutable_data_ptr<T>() : nullptr;
}

inline void check_gdl_inputs(const at::Tensor& pred, const at::Tensor& target, double alpha) {
  check_images(pred, "pred");
  TORCH_CHECK(pred.sizes() == target.sizes(), "beyondmse: gdl_loss pred and target must have the same shape, got ",
              pred.sizes(), " and ", target.sizes());
  TORCH_CHECK(pred.scalar_type() == target.scalar_type(), "beyondmse: gdl_loss pred and target must have the same dtype, got ",
              pred.scalar_type(), " and ", target.scalar_type());
  TORCH_CHECK(pred.device() == target.device(), "beyondmse: gdl_loss pred and target must be on the same device, got ",
              pred.device(), " and ", target.device());
  TORCH_CHECK(alpha >= 1.0, "beyondmse: gdl_loss alpha must be >= 1, got ", alpha);
}

inline void check_gdl_grad(const at::Tensor& grad, int64_t images) {
  TORCH_CHECK(grad.numel() == images, "beyondmse: gdl_loss_backward grad must hold one value per image (", images,
              "), got shape ", grad.sizes());
}

}  // namespace beyondmse
