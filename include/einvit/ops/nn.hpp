// einvit/ops/nn.hpp — the operations of a transformer on tensors, one per file in einvit/nn/: matmul,
// linear, softmax, layer_norm, attention (gelu and relu are elementwise expressions, in expr/operators.hpp).
//
//   auto y = einvit::linear(x, w, b);                 // x (..., in), w (out, in) as PyTorch stores it
//   auto h = einvit::linear(x, w, b, einvit::gemm::Activation::gelu_erf);   // bias and GELU fused
//   einvit::linear_into(x, h, w2, b2.data(), einvit::accumulate);          // x += h w2ᵀ + b2, fused
//   auto p = einvit::softmax(scores);                 // along the last axis
//   auto n = einvit::layer_norm(x, gamma, beta, 1e-6f);
//   auto o = einvit::attention(q, k, v);              // (b, h, n, d) each; scale 1/sqrt(d)
//
// Every operation runs on the backend of its operands' type (einvit::cpu: SIMD and threads;
// einvit::reference: the scalar oracle; einvit::eigen: GEMM through Eigen, from einvit/backend/eigen.hpp).
// Shapes are checked at compile time. The last axis of every operand must be contiguous. GEMM calls
// are unqualified so that argument-dependent lookup (through gemm::Strided) finds backends declared
// after this header, such as einvit::eigen.
#pragma once

#include "einvit/nn/attention.hpp"
#include "einvit/nn/common.hpp"
#include "einvit/nn/layer_norm.hpp"
#include "einvit/nn/linear.hpp"
#include "einvit/nn/matmul.hpp"
#include "einvit/nn/softmax.hpp"
