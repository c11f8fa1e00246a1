// edgerun's own declarations of the classic TensorFlow Lite delegate ABI: the
// plain C structs that a delegate plugin (libedgetpu.so.1, ArmNN's delegate, the
// test suite's stand-in plugin) exchanges with the runtime inside libLiteRt.so.
//
// Written by the edgerun authors from the binary layout that TensorFlow Lite
// has used since TF 2.16 and that ai-edge-litert 2.3.x uses (see README.md here
// for what was checked). Only the fields edgerun and its stand-in plugin touch
// are named; everything else is kept as opaque padding of the right size, so
// the offsets of the named fields are what the runtime uses.
//
// No function here is exported by libLiteRt.so (it exports no TfLite* symbol
// at all, so the TFLite "opaque" C API, TfLiteOpaqueDelegateCreate and friends,
// cannot be resolved by a plugin loaded into an edgerun process). A plugin
// reaches the runtime only through the function pointers of TfLiteContext.
#pragma once

#include <cstddef>
#include <cstdint>

extern "C" {

typedef int EdgerunTfLiteStatus;  // TfLiteStatus: 0 = ok, 1 = error
enum : int { kEdgerunTfLiteOk = 0, kEdgerunTfLiteError = 1 };

// TfLiteType values used by the stand-in plugin.
enum : int {
  kEdgerunTfLiteFloat32 = 1,
  kEdgerunTfLiteInt32 = 2,
  kEdgerunTfLiteUInt8 = 3,
  kEdgerunTfLiteInt8 = 9,
};

// Builtin operator code of a custom operator.
enum : int { kEdgerunTfLiteBuiltinCustom = 32 };

// Fixed-size int list: shapes, node and tensor index lists.
typedef struct EdgerunTfLiteIntArray {
  int size;
  int data[];
} EdgerunTfLiteIntArray;

// One tensor as the runtime lays it out (112 bytes on LP64). Named: type,
// data, dims, quantization scale/zero point, bytes, name.
typedef struct EdgerunTfLiteTensor {
  int type;
  void* data;
  EdgerunTfLiteIntArray* dims;
  float scale;        // TfLiteQuantizationParams
  int32_t zero_point;
  int allocation_type;
  size_t bytes;
  const void* allocation;
  const char* name;
  void* delegate;
  int buffer_handle;
  bool data_is_stale;
  bool is_variable;
  int quantization_type;     // TfLiteQuantization
  void* quantization_params;
  void* sparsity;
  const EdgerunTfLiteIntArray* dims_signature;
} EdgerunTfLiteTensor;

typedef struct EdgerunTfLiteNode {
  EdgerunTfLiteIntArray* inputs;
  EdgerunTfLiteIntArray* outputs;
  EdgerunTfLiteIntArray* intermediates;
  EdgerunTfLiteIntArray* temporaries;
  void* user_data;
  void* builtin_data;
  const void* custom_initial_data;
  int custom_initial_data_size;
  struct EdgerunTfLiteDelegate* delegate;
  bool might_have_side_effect;
} EdgerunTfLiteNode;

struct EdgerunTfLiteContext;

// An operator implementation. The runtime receives it BY VALUE in
// ReplaceNodeSubsetsWithDelegateKernels, so its size is part of the ABI:
// 88 bytes since TF 2.16 (the last three fields were added after TF 2.5, whose
// 64-byte version is what the 2021 Coral libedgetpu release was built with).
typedef struct EdgerunTfLiteRegistration {
  void* (*init)(EdgerunTfLiteContext* context, const char* buffer, size_t length);
  void (*free)(EdgerunTfLiteContext* context, void* buffer);
  EdgerunTfLiteStatus (*prepare)(EdgerunTfLiteContext* context, EdgerunTfLiteNode* node);
  EdgerunTfLiteStatus (*invoke)(EdgerunTfLiteContext* context, EdgerunTfLiteNode* node);
  const char* (*profiling_string)(const EdgerunTfLiteContext* context,
                                  const EdgerunTfLiteNode* node);
  int32_t builtin_code;
  const char* custom_name;
  int version;
  void* registration_external;  // TfLiteOperator*
  void* async_kernel;           // function pointer
  uint64_t inplace_operator;
} EdgerunTfLiteRegistration;

// What a delegate kernel's init() receives as `buffer`.
typedef struct EdgerunTfLiteDelegateParams {
  struct EdgerunTfLiteDelegate* delegate;
  EdgerunTfLiteIntArray* nodes_to_replace;
  EdgerunTfLiteIntArray* input_tensors;
  EdgerunTfLiteIntArray* output_tensors;
} EdgerunTfLiteDelegateParams;

// The runtime's view of one subgraph, handed to a delegate's Prepare and to
// kernels. Fields up to ReleaseSubgraphContext, in the runtime's order.
typedef struct EdgerunTfLiteContext {
  size_t tensors_size;
  EdgerunTfLiteStatus (*GetExecutionPlan)(EdgerunTfLiteContext* context,
                                          EdgerunTfLiteIntArray** execution_plan);
  EdgerunTfLiteTensor* tensors;
  void* impl_;
  EdgerunTfLiteStatus (*ResizeTensor)(EdgerunTfLiteContext*, EdgerunTfLiteTensor* tensor,
                                      EdgerunTfLiteIntArray* new_size);
  void (*ReportError)(EdgerunTfLiteContext*, const char* msg, ...);
  EdgerunTfLiteStatus (*AddTensors)(EdgerunTfLiteContext*, int tensors_to_add,
                                    int* first_new_tensor_index);
  EdgerunTfLiteStatus (*GetNodeAndRegistration)(EdgerunTfLiteContext*, int node_index,
                                                EdgerunTfLiteNode** node,
                                                EdgerunTfLiteRegistration** registration);
  EdgerunTfLiteStatus (*ReplaceNodeSubsetsWithDelegateKernels)(
      EdgerunTfLiteContext*, EdgerunTfLiteRegistration registration,
      const EdgerunTfLiteIntArray* nodes_to_replace, struct EdgerunTfLiteDelegate* delegate);
  int recommended_num_threads;
  void* (*GetExternalContext)(EdgerunTfLiteContext*, int type);
  void (*SetExternalContext)(EdgerunTfLiteContext*, int type, void* external_context);
  bool allow_fp32_relax_to_fp16;
  void* profiler;
  void* (*AllocatePersistentBuffer)(EdgerunTfLiteContext* ctx, size_t bytes);
  EdgerunTfLiteStatus (*AllocateBufferForEval)(EdgerunTfLiteContext* ctx, size_t bytes, void** ptr);
  EdgerunTfLiteStatus (*RequestScratchBufferInArena)(EdgerunTfLiteContext* ctx, size_t bytes,
                                                     int* buffer_idx);
  void* (*GetScratchBuffer)(EdgerunTfLiteContext* ctx, int buffer_idx);
  EdgerunTfLiteStatus (*ResizeTensorExplicit)(EdgerunTfLiteContext* ctx,
                                              EdgerunTfLiteTensor* tensor, int dims,
                                              const int* shape);
  EdgerunTfLiteStatus (*PreviewDelegatePartitioning)(EdgerunTfLiteContext* context,
                                                     const EdgerunTfLiteIntArray* nodes_to_replace,
                                                     EdgerunTfLiteDelegateParams** partition_params_array,
                                                     int* num_partitions);
  EdgerunTfLiteTensor* (*GetTensor)(const EdgerunTfLiteContext* context, int tensor_idx);
  void* (*GetEvalTensor)(const EdgerunTfLiteContext* context, int tensor_idx);
  EdgerunTfLiteStatus (*GetModelMetadata)(const EdgerunTfLiteContext* context, const char* name,
                                          const char** ptr, size_t* bytes);
  EdgerunTfLiteStatus (*AcquireSubgraphContext)(EdgerunTfLiteContext* context, int subgraph_index,
                                                EdgerunTfLiteContext** acquired_context);
  EdgerunTfLiteStatus (*ReleaseSubgraphContext)(EdgerunTfLiteContext* context,
                                                int subgraph_index);
} EdgerunTfLiteContext;

// A classic (non-opaque) delegate. `opaque_delegate_builder` is null for the
// plugins edgerun loads; the runtime then calls Prepare(context, delegate).
typedef struct EdgerunTfLiteDelegate {
  void* data_;
  EdgerunTfLiteStatus (*Prepare)(EdgerunTfLiteContext* context, EdgerunTfLiteDelegate* delegate);
  EdgerunTfLiteStatus (*CopyFromBufferHandle)(EdgerunTfLiteContext* context,
                                              EdgerunTfLiteDelegate* delegate, int buffer_handle,
                                              EdgerunTfLiteTensor* tensor);
  EdgerunTfLiteStatus (*CopyToBufferHandle)(EdgerunTfLiteContext* context,
                                            EdgerunTfLiteDelegate* delegate, int buffer_handle,
                                            EdgerunTfLiteTensor* tensor);
  void (*FreeBufferHandle)(EdgerunTfLiteContext* context, EdgerunTfLiteDelegate* delegate,
                           int* handle);
  int64_t flags;
  void* opaque_delegate_builder;
} EdgerunTfLiteDelegate;

// The classic external-delegate plugin entry points (the ones TFLite's
// load_delegate() and libedgetpu.so.1 use).
typedef void (*EdgerunPluginErrorHandler)(const char* message);
typedef EdgerunTfLiteDelegate* (*EdgerunPluginCreateFn)(char** keys, char** values, size_t n,
                                                         EdgerunPluginErrorHandler report_error);
typedef void (*EdgerunPluginDestroyFn)(EdgerunTfLiteDelegate* delegate);

// libedgetpu's C API (edgetpu_c.h), used to list devices and read the version.
enum : int { kEdgerunEdgeTpuApexPci = 0, kEdgerunEdgeTpuApexUsb = 1 };
typedef struct EdgerunEdgeTpuDevice {
  int type;
  const char* path;
} EdgerunEdgeTpuDevice;
typedef EdgerunEdgeTpuDevice* (*EdgerunEdgeTpuListDevicesFn)(size_t* num_devices);
typedef void (*EdgerunEdgeTpuFreeDevicesFn)(EdgerunEdgeTpuDevice* devices);
typedef const char* (*EdgerunEdgeTpuVersionFn)();

}  // extern "C"

#if UINTPTR_MAX == UINT64_MAX
static_assert(sizeof(EdgerunTfLiteTensor) == 112, "TfLiteTensor ABI (LP64)");
static_assert(offsetof(EdgerunTfLiteTensor, bytes) == 40, "TfLiteTensor ABI (LP64)");
static_assert(sizeof(EdgerunTfLiteNode) == 80, "TfLiteNode ABI (LP64)");
static_assert(sizeof(EdgerunTfLiteRegistration) == 88, "TfLiteRegistration ABI (TF >= 2.16, LP64)");
static_assert(offsetof(EdgerunTfLiteContext, ReplaceNodeSubsetsWithDelegateKernels) == 64,
              "TfLiteContext ABI (LP64)");
static_assert(sizeof(EdgerunTfLiteDelegate) == 56, "TfLiteDelegate ABI (LP64)");
#endif
