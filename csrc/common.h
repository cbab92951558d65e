// Helpers shared by the CPU and CUDA kernels of every op.
#pragma once

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define BMSE_HD __host__ __device__ __forceinline__
#else
#define BMSE_HD inline
#endif

// Hot CPU loops are compiled for x86-64-v3 (AVX2, FMA) as well as for the baseline, and the loader picks the
// best clone for the machine (GCC function multi-versioning), so one build is fast everywhere.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__)
#define BMSE_CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define BMSE_CPU_CLONES
#endif

namespace beyondmse {

// The accumulation type of a kernel's element type: float for half, bfloat16 and float.
template <typename T>
struct Acc {
  using type = float;
};
template <>
struct Acc<double> {
  using type = double;
};
template <typename T>
using acc_t = typename Acc<T>::type;

// An accumulated value rounded to the kernel's element type, for the CPU kernels' stores. bfloat16
// rounds to nearest even (as c10::BFloat16 and torch's casts do) in branch-free integer steps, which
// the compiler vectorises; c10's conversion has a branch and keeps the loop scalar.
template <typename T, typename A>
inline T round_to(A value) {
  return static_cast<T>(value);
}
template <>
inline c10::BFloat16 round_to<c10::BFloat16, float>(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  const auto rounded = static_cast<uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
  return c10::BFloat16(value != value ? uint16_t(0x7FC0) : rounded, c10::BFloat16::from_bits());
}

// The dtype of a reduction's output: float32, or float64 for float64 inputs.
inline at::ScalarType opmath_dtype(at::ScalarType t) {
  return t == at::kDouble ? at::kDouble : at::kFloat;
}

// Number of images in an (..., H, W) tensor.
inline int64_t image_count(const at::Tensor& x) {
  int64_t n = 1;
  for (int64_t d = 0; d + 2 < x.dim(); ++d) n *= x.size(d);
  return n;
}

inline void check_images(const at::Tensor& x, const char* name) {
  TORCH_CHECK(x.dim() >= 2, "beyondmse: ", name, " must have at least 2 dims (..., H, W), got shape ",
              x.sizes());
  TORCH_CHECK(at::isFloatingType(x.scalar_type()), "beyondmse: ", name,
              " must be a floating-point tensor, got ", x.scalar_type());
}

// The output shape (..., h, w) of an (..., H, W) input.
inline std::vector<int64_t> image_shape(const at::Tensor& x, int64_t h, int64_t w) {
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape[shape.size() - 2] = h;
  shape[shape.size() - 1] = w;
  return shape;
}

}  // namespace beyondmse
