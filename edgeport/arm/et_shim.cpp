// The guest's ExecuTorch runner: a C API over the ExecuTorch C++ runtime (libexecutorch.so of the executorch
// wheel), for ctypes in the guest's Python (edgeport/arm/guest.py, ExecuTorchGuestRunner). The wheel's Python
// bindings (_C) link libtorch and take torch tensors, and PyPI's aarch64 torch is a CUDA build from 2.11 on; the
// runtime libraries themselves link no torch. So the guest runs the host's executorch release without any torch,
// through this file, cross-compiled for aarch64 against the wheel's own headers (arm/etshim.py). The kernels
// (optimized + portable, quantized, XNNPACK delegate) register themselves when the guest loads their libraries, as
// a phone app links them.
//
// Protocol: ep_et_threads (XNNPACK's pool), ep_et_load -> handle; ep_et_meta -> inputs, outputs, the longest
// sequence; ep_et_run: one row [1, width] of each int64 input; ep_et_shape / ep_et_copy: each float32 output.
// Errors: a negative return (or a null handle) and a message in `err`.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <executorch/extension/module/module.h>
#include <executorch/extension/tensor/tensor.h>
#include <executorch/runtime/platform/runtime.h>

namespace executorch::extension::threadpool {  // libexecutorch_threadpool.so (the wheel ships no threadpool.h)
class ThreadPool {
 public:
  bool _unsafe_reset_threadpool(uint32_t num_threads);
};
ThreadPool* get_threadpool();
}  // namespace executorch::extension::threadpool

using executorch::aten::ScalarType;
using executorch::extension::from_blob;
using executorch::extension::module::Module;
using executorch::runtime::Error;
using executorch::runtime::EValue;

namespace {

struct Handle {
  std::unique_ptr<Module> module;
  size_t inputs = 0, outputs = 0;
  int64_t max_seq = 0;
  std::vector<EValue> results;  // the last run's outputs (they point into the method's planned memory)
};

void fail(char* err, size_t len, const std::string& what) {
  if (err && len) std::snprintf(err, len, "%s", what.c_str());
}

std::string code(Error e) { return "ExecuTorch error 0x" + std::to_string(static_cast<int>(e)); }

}  // namespace

extern "C" {

// A pool of `threads` for XNNPACK (before loading: a method captures the pool it was loaded against).
int ep_et_threads(uint32_t threads) {
  auto* pool = executorch::extension::threadpool::get_threadpool();
  return pool && pool->_unsafe_reset_threadpool(threads) ? 0 : -1;
}

void* ep_et_load(const char* path, char* err, size_t len) {
  executorch::runtime::runtime_init();
  auto h = std::make_unique<Handle>();
  h->module = std::make_unique<Module>(path, Module::LoadMode::File);
  Error e = h->module->load_method("forward");
  if (e != Error::Ok) {
    fail(err, len, "loading method 'forward' failed: " + code(e));
    return nullptr;
  }
  auto meta = h->module->method_meta("forward");
  if (!meta.ok()) {
    fail(err, len, "method_meta('forward') failed: " + code(meta.error()));
    return nullptr;
  }
  h->inputs = meta->num_inputs();
  h->outputs = meta->num_outputs();
  auto first = meta->input_tensor_meta(0);
  if (!first.ok() || first->sizes().size() != 2) {
    fail(err, len, "input 0 is not a [1, seq] tensor");
    return nullptr;
  }
  h->max_seq = first->sizes()[1];  // the dynamic dimension's upper bound
  return h.release();
}

// inputs, outputs, longest sequence
void ep_et_meta(void* handle, int64_t* out) {
  auto* h = static_cast<Handle*>(handle);
  out[0] = static_cast<int64_t>(h->inputs);
  out[1] = static_cast<int64_t>(h->outputs);
  out[2] = h->max_seq;
}

// `data`: the program's inputs, each one row of `width` int64 values, one after the other. Runs the method and
// keeps its outputs (valid until the next run). Returns their number, or -1 (message in err).
int ep_et_run(void* handle, const int64_t* data, int64_t width, char* err, size_t len) {
  auto* h = static_cast<Handle*>(handle);
  std::vector<executorch::extension::TensorPtr> tensors;
  std::vector<EValue> values;
  for (size_t i = 0; i < h->inputs; ++i) {
    tensors.push_back(from_blob(const_cast<int64_t*>(data + i * width),
                                {1, static_cast<executorch::aten::SizesType>(width)}, ScalarType::Long));
    values.emplace_back(tensors.back());
  }
  auto result = h->module->execute("forward", values);
  if (!result.ok()) {
    fail(err, len, "execute failed: " + code(result.error()));
    return -1;
  }
  h->results = std::move(*result);
  for (size_t k = 0; k < h->results.size(); ++k) {
    const EValue& v = h->results[k];
    if (!v.isTensor() || v.toTensor().scalar_type() != ScalarType::Float) {
      fail(err, len, "output " + std::to_string(k) + " is not a float32 tensor");
      return -1;
    }
  }
  return static_cast<int>(h->results.size());
}

// Output k of the last run: its sizes into `sizes` (room for 8), its rank returned (-1: no such output).
int ep_et_shape(void* handle, int k, int64_t* sizes) {
  auto* h = static_cast<Handle*>(handle);
  if (k < 0 || static_cast<size_t>(k) >= h->results.size()) return -1;
  const auto& t = h->results[k].toTensor();
  if (t.dim() > 8) return -1;
  for (int64_t d = 0; d < t.dim(); ++d) sizes[d] = t.size(d);
  return static_cast<int>(t.dim());
}

// Output k of the last run copied into `out` (room for its numel float32 values).
void ep_et_copy(void* handle, int k, float* out) {
  const auto& t = static_cast<Handle*>(handle)->results[k].toTensor();
  std::memcpy(out, t.const_data_ptr<float>(), t.numel() * sizeof(float));
}

void ep_et_free(void* handle) { delete static_cast<Handle*>(handle); }

}  // extern "C"
