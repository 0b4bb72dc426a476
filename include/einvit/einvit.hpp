// einvit/einvit.hpp — everything einvit offers on the CPU, in one include: tensors, expressions,
// einops patterns, the kernels, safetensors loading and the Vision Transformer.
//
//   #include <einvit/einvit.hpp>
//   einvit::Tensor<float, einvit::Shape<2, 3>> a, b;
//   einvit::Tensor<float, einvit::Shape<2, 3>> c = a * b + einvit::exp(a);
#pragma once

#include "einvit/core/config.hpp"
#include "einvit/core/error.hpp"
#include "einvit/core/shape.hpp"
#include "einvit/core/fixed_string.hpp"
#include "einvit/core/diagnostics.hpp"
#include "einvit/core/memory.hpp"
#include "einvit/backend/tags.hpp"
#include "einvit/backend/cpu/simd.hpp"
#include "einvit/expr/functors.hpp"
#include "einvit/expr/nodes.hpp"
#include "einvit/expr/operators.hpp"
#include "einvit/expr/evaluate.hpp"
#include "einvit/core/tensor.hpp"
#include "einvit/expr/reduce.hpp"
#include "einvit/pattern/parse.hpp"
#include "einvit/pattern/plan.hpp"
#include "einvit/pattern/einsum_plan.hpp"
#include "einvit/pattern/report.hpp"
#include "einvit/backend/cpu/strided.hpp"
#include "einvit/backend/cpu/thread_pool.hpp"
#include "einvit/backend/cpu/gemm.hpp"
#include "einvit/backend/cpu/rows.hpp"
#include "einvit/backend/cpu/attention.hpp"
#include "einvit/ops/einops.hpp"
#include "einvit/ops/einsum.hpp"
#include "einvit/ops/nn.hpp"
#include "einvit/io/json.hpp"
#include "einvit/io/safetensors.hpp"
#include "einvit/io/sharded.hpp"
#include "einvit/vit/config.hpp"
#include "einvit/vit/model.hpp"
#if EINVIT_HEAP  // loading a checkpoint allocates: without a heap, a model reads a weight image
#include "einvit/vit/load.hpp"
#endif
