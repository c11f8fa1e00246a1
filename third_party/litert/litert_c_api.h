// edgerun's own declarations of the subset of the LiteRT C ABI that edgerun
// uses. Written by the edgerun authors from the facts of the binary interface
// exported by libLiteRt.so in the ai-edge-litert wheel (see README.md here for
// the versions these were checked against). Nothing here is linked: every
// function is resolved at run time with dlsym (cpp/src/runtime/litert_api.cc).
#pragma once

#include <cstddef>
#include <cstdint>

extern "C" {

// ---- handles -------------------------------------------------------------
typedef struct LiteRtEnvironmentT* LiteRtEnvironment;
typedef struct LiteRtModelT* LiteRtModel;
typedef struct LiteRtSignatureT* LiteRtSignature;
typedef struct LiteRtSubgraphT* LiteRtSubgraph;
typedef struct LiteRtTensorT* LiteRtTensor;
typedef struct LiteRtOpT* LiteRtOp;
typedef struct LiteRtOptionsT* LiteRtOptions;
typedef struct LiteRtOpaqueOptionsT* LiteRtOpaqueOptions;
typedef struct LiteRtCompiledModelT* LiteRtCompiledModel;
typedef struct LiteRtTensorBufferT* LiteRtTensorBuffer;
typedef struct LiteRtTensorBufferRequirementsT* LiteRtTensorBufferRequirements;
typedef struct LiteRtAcceleratorT* LiteRtAccelerator;
typedef struct LiteRtDelegateWrapperT* LiteRtDelegateWrapper;
typedef struct LiteRtRuntimeContextT LiteRtRuntimeContext;  // opaque, never dereferenced
typedef struct LiteRtProfilerT* LiteRtProfiler;  // owned by its compiled model

typedef int LiteRtStatus;  // 0 = ok; see kLiteRtStatus* below
typedef size_t LiteRtParamIndex;
typedef int LiteRtHwAcceleratorSet;

enum : int {
  kLiteRtStatusOk = 0,
  kLiteRtStatusErrorInvalidArgument = 1,
  kLiteRtStatusErrorMemoryAllocationFailure = 2,
  kLiteRtStatusErrorRuntimeFailure = 3,
  kLiteRtStatusErrorMissingInputTensor = 4,
  kLiteRtStatusErrorUnsupported = 5,
  kLiteRtStatusErrorNotFound = 6,
  kLiteRtStatusErrorTimeoutExpired = 7,
  kLiteRtStatusErrorWrongVersion = 8,
  kLiteRtStatusErrorUnknown = 9,
  kLiteRtStatusErrorAlreadyExists = 10,
  kLiteRtStatusCancelled = 100,
  kLiteRtStatusErrorFileIO = 500,
  kLiteRtStatusErrorInvalidFlatbuffer = 501,
  kLiteRtStatusErrorDynamicLoading = 502,
  kLiteRtStatusErrorSerialization = 503,
  kLiteRtStatusErrorCompilation = 504,
  kLiteRtStatusErrorIndexOOB = 1000,
};

enum : int {
  kLiteRtHwAcceleratorNone = 0,
  kLiteRtHwAcceleratorCpu = 1 << 0,
  kLiteRtHwAcceleratorGpu = 1 << 1,
  kLiteRtHwAcceleratorNpu = 1 << 2,
};

// ---- LiteRtAny / environment options -------------------------------------
enum LiteRtAnyType : int {
  kLiteRtAnyTypeNone = 0,
  kLiteRtAnyTypeBool = 1,
  kLiteRtAnyTypeInt = 2,
  kLiteRtAnyTypeReal = 3,
  kLiteRtAnyTypeString = 8,
  kLiteRtAnyTypeVoidPtr = 9,
};

typedef struct {
  LiteRtAnyType type;
  union {
    bool bool_value;
    int64_t int_value;
    double real_value;
    const char* str_value;
    const void* ptr_value;
  };
} LiteRtAny;

enum LiteRtEnvOptionTag : int {
  kLiteRtEnvOptionTagCompilerPluginLibraryDir = 0,
  kLiteRtEnvOptionTagDispatchLibraryDir = 1,
  kLiteRtEnvOptionTagRuntimeLibraryDir = 22,
  kLiteRtEnvOptionTagAutoRegisterAccelerators = 24,  // int bitmask of kLiteRtHwAccelerator*
  kLiteRtEnvOptionTagMinLoggerSeverity = 25,         // int, LiteRtLogSeverity
};

enum : int {
  kLiteRtLogSeverityVerbose = 0,
  kLiteRtLogSeverityInfo = 1,
  kLiteRtLogSeverityWarning = 2,
  kLiteRtLogSeverityError = 3,
  kLiteRtLogSeveritySilent = 4,
};

typedef struct {
  LiteRtEnvOptionTag tag;
  LiteRtAny value;
} LiteRtEnvOption;

// ---- tensor types ----------------------------------------------------------
enum LiteRtElementType : int {
  kLiteRtElementTypeNone = 0,
  kLiteRtElementTypeFloat32 = 1,
  kLiteRtElementTypeInt32 = 2,
  kLiteRtElementTypeUInt8 = 3,
  kLiteRtElementTypeInt64 = 4,
  kLiteRtElementTypeTfString = 5,
  kLiteRtElementTypeBool = 6,
  kLiteRtElementTypeInt16 = 7,
  kLiteRtElementTypeComplex64 = 8,
  kLiteRtElementTypeInt8 = 9,
  kLiteRtElementTypeFloat16 = 10,
  kLiteRtElementTypeFloat64 = 11,
  kLiteRtElementTypeComplex128 = 12,
  kLiteRtElementTypeUInt64 = 13,
  kLiteRtElementTypeTfResource = 14,
  kLiteRtElementTypeTfVariant = 15,
  kLiteRtElementTypeUInt32 = 16,
  kLiteRtElementTypeUInt16 = 17,
  kLiteRtElementTypeInt4 = 18,
  kLiteRtElementTypeBFloat16 = 19,
  kLiteRtElementTypeInt2 = 20,
};

#define EDGERUN_LITERT_MAX_RANK 8

// Layout as laid out by ai-edge-litert 2.3.x (probed: 68 bytes, 4-byte
// aligned; rank in the low bits of the first word, has_strides above it).
typedef struct {
  uint32_t rank : 7;
  uint32_t has_strides : 1;
  uint32_t reserved_ : 24;
  int32_t dimensions[EDGERUN_LITERT_MAX_RANK];
  uint32_t strides[EDGERUN_LITERT_MAX_RANK];
} LiteRtLayout;

typedef struct {
  LiteRtElementType element_type;
  LiteRtLayout layout;
} LiteRtRankedTensorType;

static_assert(sizeof(LiteRtLayout) == 68, "LiteRtLayout ABI");
static_assert(sizeof(LiteRtRankedTensorType) == 72, "LiteRtRankedTensorType ABI");
static_assert(offsetof(LiteRtRankedTensorType, layout) == 4, "LiteRtRankedTensorType ABI");

enum LiteRtTensorTypeId : int {
  kLiteRtRankedTensorType = 0,
  kLiteRtUnrankedTensorType = 1,
};

enum LiteRtQuantizationTypeId : int {
  kLiteRtQuantizationNone = 0,
  kLiteRtQuantizationPerTensor = 1,
  kLiteRtQuantizationPerChannel = 2,
  kLiteRtQuantizationBlockWise = 3,
};

typedef struct {
  float scale;
  int64_t zero_point;
} LiteRtQuantizationPerTensor;
static_assert(sizeof(LiteRtQuantizationPerTensor) == 16, "ABI");

typedef struct {
  int32_t quantized_dimension;
  uint64_t num_channels;
  float* scales;
  int64_t* zero_points;
} LiteRtQuantizationPerChannel;
static_assert(sizeof(LiteRtQuantizationPerChannel) == 32, "ABI");

enum LiteRtTensorBufferLockMode : int {
  kLiteRtTensorBufferLockModeRead = 0,
  kLiteRtTensorBufferLockModeWrite = 1,
  kLiteRtTensorBufferLockModeReadWrite = 2,
};

typedef void (*LiteRtHostMemoryDeallocator)(void* addr);

// ---- custom accelerators (probed against 2.3.0, see README.md) -------------
typedef struct {
  int major;
  int minor;
  int patch;
} LiteRtApiVersion;

typedef LiteRtStatus (*LiteRtAcceleratorGetNameFn)(LiteRtAccelerator accelerator,
                                                   const char** name);
typedef LiteRtStatus (*LiteRtAcceleratorGetVersionFn)(LiteRtAccelerator accelerator,
                                                      LiteRtApiVersion* version);
typedef LiteRtStatus (*LiteRtAcceleratorGetHardwareSupportFn)(LiteRtAccelerator accelerator,
                                                              LiteRtHwAcceleratorSet* hardware);
typedef LiteRtStatus (*LiteRtAcceleratorIsJitFn)(LiteRtAccelerator accelerator, bool* jit);
// 2.3.0: five arguments (a runtime context first), one output: the wrapper.
// There is no separate destroy callback; the wrapper owns the delegate and
// calls the deleter given to LiteRtWrapDelegate.
typedef LiteRtStatus (*LiteRtAcceleratorCreateDelegateFn)(LiteRtRuntimeContext* runtime_context,
                                                          LiteRtEnvironment env,
                                                          LiteRtAccelerator accelerator,
                                                          LiteRtOptions options,
                                                          LiteRtDelegateWrapper* wrapper);
// The TFLite delegate is passed as an untyped pointer (it is a TfLiteDelegate*,
// see tflite_delegate_abi.h).
typedef void (*LiteRtDelegateDeleter)(void* delegate);

// ---- profiler (probed against 2.3.0, see README.md) -------------------------
// One recorded event as LiteRtGetProfilerEvents copies it out: 104 bytes on
// LP64 (the element stride the 2.3.0 binary uses). The two memory records are
// three 64-bit words each there; public C headers that show two words describe
// another layout, so nothing here reads them.
enum : int {
  kEdgerunProfileEventDefault = 1,                  // runtime spans ("Invoke", "LiteRT::Run[...]")
  kEdgerunProfileEventOperator = 1 << 1,            // a TFLite node run by its own kernel; metadata1 = node index
  kEdgerunProfileEventDelegateOperator = 1 << 2,    // an operator inside a delegate
  kEdgerunProfileEventDelegateProfiledOperator = 1 << 3,  // same, as XNNPACK reports its operators
  kEdgerunProfileEventRuntimeInstrumentation = 1 << 4,    // the whole interpreter invoke
  // 1 << 5 and above: telemetry, whose elapsed time is a sentinel, not a duration
};

typedef struct {
  const char* tag;          // owned by the profiler; valid until it is reset
  int event_type;           // kEdgerunProfileEvent*
  uint64_t start_timestamp_us;
  uint64_t elapsed_time_us;
  int64_t begin_memory[3];  // not used by edgerun
  int64_t end_memory[3];
  uint64_t metadata1;       // operators: node index (in the delegate's own graph for delegate operators)
  uint64_t metadata2;
  int event_source;         // 0 LiteRT, 1 TFLite interpreter, 2 TFLite delegate
} EdgerunProfiledEvent;
static_assert(sizeof(void*) != 8 || sizeof(EdgerunProfiledEvent) == 104, "ProfiledEventData ABI (LP64)");
static_assert(sizeof(void*) != 8 || offsetof(EdgerunProfiledEvent, metadata1) == 80, "ProfiledEventData ABI");

}  // extern "C"

// ---- functions -------------------------------------------------------------
// X(return type, name, parameter list). Every entry is resolved at load time;
// a missing one is reported by name.
#define EDGERUN_LITERT_FUNCTIONS(X)                                                            \
  X(LiteRtStatus, LiteRtCreateEnvironment,                                                      \
    (int num_options, const LiteRtEnvOption* options, LiteRtEnvironment* env))                  \
  X(void, LiteRtDestroyEnvironment, (LiteRtEnvironment env))                                    \
  X(LiteRtStatus, LiteRtCreateModelFromBuffer,                                                  \
    (LiteRtEnvironment env, const void* addr, size_t size, LiteRtModel* model))                 \
  X(void, LiteRtDestroyModel, (LiteRtModel model))                                              \
  X(LiteRtStatus, LiteRtGetNumModelSignatures, (LiteRtModel model, LiteRtParamIndex * n))       \
  X(LiteRtStatus, LiteRtGetModelSignature,                                                      \
    (LiteRtModel model, LiteRtParamIndex i, LiteRtSignature * sig))                             \
  X(LiteRtStatus, LiteRtGetSignatureKey, (LiteRtSignature sig, const char** key))               \
  X(LiteRtStatus, LiteRtGetNumSignatureInputs, (LiteRtSignature sig, LiteRtParamIndex * n))     \
  X(LiteRtStatus, LiteRtGetNumSignatureOutputs, (LiteRtSignature sig, LiteRtParamIndex * n))    \
  X(LiteRtStatus, LiteRtGetSignatureInputName,                                                  \
    (LiteRtSignature sig, LiteRtParamIndex i, const char** name))                               \
  X(LiteRtStatus, LiteRtGetSignatureOutputName,                                                 \
    (LiteRtSignature sig, LiteRtParamIndex i, const char** name))                               \
  X(LiteRtStatus, LiteRtGetSignatureInputTensorByIndex,                                         \
    (LiteRtSignature sig, LiteRtParamIndex i, LiteRtTensor * t))                                \
  X(LiteRtStatus, LiteRtGetSignatureOutputTensorByIndex,                                        \
    (LiteRtSignature sig, LiteRtParamIndex i, LiteRtTensor * t))                                \
  X(LiteRtStatus, LiteRtGetNumModelSubgraphs, (LiteRtModel model, LiteRtParamIndex * n))       \
  X(LiteRtStatus, LiteRtGetModelSubgraph,                                                       \
    (LiteRtModel model, LiteRtParamIndex i, LiteRtSubgraph * sg))                               \
  X(LiteRtStatus, LiteRtGetNumSubgraphOps, (LiteRtSubgraph sg, LiteRtParamIndex * n))           \
  X(LiteRtStatus, LiteRtGetSubgraphOp, (LiteRtSubgraph sg, LiteRtParamIndex i, LiteRtOp * op))  \
  X(LiteRtStatus, LiteRtGetOpCode, (LiteRtOp op, int* code))                                    \
  X(LiteRtStatus, LiteRtGetTensorName, (LiteRtTensor t, const char** name))                     \
  X(LiteRtStatus, LiteRtGetTensorTypeId, (LiteRtTensor t, LiteRtTensorTypeId * id))             \
  X(LiteRtStatus, LiteRtGetRankedTensorType, (LiteRtTensor t, LiteRtRankedTensorType * type))   \
  X(LiteRtStatus, LiteRtGetQuantizationTypeId, (LiteRtTensor t, LiteRtQuantizationTypeId * id)) \
  X(LiteRtStatus, LiteRtGetPerTensorQuantization,                                               \
    (LiteRtTensor t, LiteRtQuantizationPerTensor * q))                                          \
  X(LiteRtStatus, LiteRtGetPerChannelQuantization,                                              \
    (LiteRtTensor t, LiteRtQuantizationPerChannel * q))                                         \
  X(LiteRtStatus, LiteRtCreateOptions, (LiteRtOptions * options))                               \
  X(void, LiteRtDestroyOptions, (LiteRtOptions options))                                        \
  X(LiteRtStatus, LiteRtSetOptionsHardwareAccelerators,                                         \
    (LiteRtOptions options, LiteRtHwAcceleratorSet accelerators))                               \
  X(LiteRtStatus, LiteRtCreateOpaqueOptions,                                                    \
    (const char* identifier, void* payload, void (*destructor)(void*),                          \
     LiteRtOpaqueOptions* out))                                                                 \
  X(void, LiteRtDestroyOpaqueOptions, (LiteRtOpaqueOptions options))                            \
  X(LiteRtStatus, LiteRtAddOpaqueOptions, (LiteRtOptions options, LiteRtOpaqueOptions opaque))  \
  X(LiteRtStatus, LiteRtCreateCompiledModel,                                                    \
    (LiteRtEnvironment env, LiteRtModel model, LiteRtOptions options,                           \
     LiteRtCompiledModel* compiled))                                                            \
  X(void, LiteRtDestroyCompiledModel, (LiteRtCompiledModel compiled))                           \
  X(LiteRtStatus, LiteRtGetCompiledModelInputBufferRequirements,                                \
    (LiteRtCompiledModel cm, LiteRtParamIndex sig, LiteRtParamIndex i,                          \
     LiteRtTensorBufferRequirements* req))                                                      \
  X(LiteRtStatus, LiteRtGetCompiledModelOutputBufferRequirements,                               \
    (LiteRtCompiledModel cm, LiteRtParamIndex sig, LiteRtParamIndex i,                          \
     LiteRtTensorBufferRequirements* req))                                                      \
  X(LiteRtStatus, LiteRtGetCompiledModelInputTensorLayout,                                      \
    (LiteRtCompiledModel cm, LiteRtParamIndex sig, LiteRtParamIndex i, LiteRtLayout* layout))   \
  X(LiteRtStatus, LiteRtGetCompiledModelOutputTensorLayouts,                                    \
    (LiteRtCompiledModel cm, LiteRtParamIndex sig, size_t n, LiteRtLayout* layouts,             \
     bool update_allocation))                                                                   \
  X(LiteRtStatus, LiteRtCompiledModelResizeInputTensorNonStrict,                                \
    (LiteRtCompiledModel cm, LiteRtParamIndex sig, LiteRtParamIndex i, const int* dims,         \
     size_t n))                                                                                 \
  X(LiteRtStatus, LiteRtRunCompiledModel,                                                       \
    (LiteRtCompiledModel cm, LiteRtParamIndex sig, size_t n_in, LiteRtTensorBuffer* in,         \
     size_t n_out, LiteRtTensorBuffer* out))                                                    \
  X(LiteRtStatus, LiteRtCompiledModelGetErrorMessages, (LiteRtCompiledModel cm, char** msgs))   \
  X(LiteRtStatus, LiteRtCompiledModelClearErrors, (LiteRtCompiledModel cm))                     \
  X(LiteRtStatus, LiteRtGetTensorBufferRequirementsBufferSize,                                  \
    (LiteRtTensorBufferRequirements req, size_t * size))                                        \
  X(LiteRtStatus, LiteRtGetTensorBufferRequirementsAlignment,                                   \
    (LiteRtTensorBufferRequirements req, size_t * alignment))                                   \
  X(LiteRtStatus, LiteRtCreateTensorBufferFromHostMemory,                                       \
    (const LiteRtRankedTensorType* type, void* addr, size_t size,                               \
     LiteRtHostMemoryDeallocator deallocator, LiteRtTensorBuffer* buffer))                      \
  X(LiteRtStatus, LiteRtLockTensorBuffer,                                                       \
    (LiteRtTensorBuffer buffer, void** addr, LiteRtTensorBufferLockMode mode))                  \
  X(LiteRtStatus, LiteRtUnlockTensorBuffer, (LiteRtTensorBuffer buffer))                        \
  X(void, LiteRtDestroyTensorBuffer, (LiteRtTensorBuffer buffer))                               \
  X(LiteRtStatus, LiteRtGetCustomCode, (LiteRtOp op, const char** code))                        \
  X(LiteRtStatus, LiteRtCreateAccelerator, (LiteRtAccelerator * accelerator))                    \
  X(LiteRtStatus, LiteRtDestroyAccelerator, (LiteRtAccelerator accelerator))                     \
  X(LiteRtStatus, LiteRtSetAcceleratorGetName,                                                  \
    (LiteRtAccelerator accelerator, LiteRtAcceleratorGetNameFn fn))                             \
  X(LiteRtStatus, LiteRtSetAcceleratorGetVersion,                                               \
    (LiteRtAccelerator accelerator, LiteRtAcceleratorGetVersionFn fn))                          \
  X(LiteRtStatus, LiteRtSetAcceleratorGetHardwareSupport,                                       \
    (LiteRtAccelerator accelerator, LiteRtAcceleratorGetHardwareSupportFn fn))                  \
  X(LiteRtStatus, LiteRtSetIsAcceleratorDelegateResponsibleForJitCompilation,                   \
    (LiteRtAccelerator accelerator, LiteRtAcceleratorIsJitFn fn))                               \
  X(LiteRtStatus, LiteRtSetDelegateFunction,                                                    \
    (LiteRtAccelerator accelerator, LiteRtAcceleratorCreateDelegateFn fn))                      \
  X(LiteRtStatus, LiteRtRegisterAccelerator,                                                    \
    (LiteRtEnvironment env, LiteRtAccelerator accelerator, void* data,                          \
     void (*release_data)(void*)))                                                              \
  X(LiteRtStatus, LiteRtWrapDelegate,                                                           \
    (void* delegate, LiteRtDelegateDeleter deleter, LiteRtDelegateWrapper* wrapper))            \
  X(LiteRtStatus, LiteRtGetNumAccelerators, (LiteRtEnvironment env, LiteRtParamIndex * n))      \
  X(LiteRtStatus, LiteRtGetAccelerator,                                                         \
    (LiteRtEnvironment env, LiteRtParamIndex i, LiteRtAccelerator * accelerator))               \
  X(LiteRtStatus, LiteRtGetAcceleratorName, (LiteRtAccelerator accelerator, const char** name)) \
  X(LiteRtStatus, LiteRtGetAcceleratorHardwareSupport,                                          \
    (LiteRtAccelerator accelerator, LiteRtHwAcceleratorSet * hardware))

// Optional functions: resolved when the library has them, nullptr otherwise
// (never a load failure). Whatever uses one checks it and names it when absent.
#define EDGERUN_LITERT_OPTIONAL_FUNCTIONS(X)                                                   \
  X(LiteRtStatus, LiteRtCompiledModelGetProfiler, (LiteRtCompiledModel cm, LiteRtProfiler * p)) \
  X(LiteRtStatus, LiteRtStartProfiler, (LiteRtProfiler p))                                      \
  X(LiteRtStatus, LiteRtStopProfiler, (LiteRtProfiler p))                                       \
  X(LiteRtStatus, LiteRtResetProfiler, (LiteRtProfiler p))                                      \
  X(LiteRtStatus, LiteRtGetNumProfilerEvents, (LiteRtProfiler p, int* n))                       \
  X(LiteRtStatus, LiteRtGetProfilerEvents, (LiteRtProfiler p, int n, EdgerunProfiledEvent* events))

// The CPU (XNNPACK) accelerator's definition, a data symbol, resolved
// separately and optionally (runtime/accelerators/ re-registers the CPU accelerator
// after delegate plugins through it, so plugins see the graph first). 2.3.0
// layout: a header word, then get_name, get_version, get_hardware_support,
// is_jit, create_delegate, ... function pointers (8 bytes each on LP64).
#define EDGERUN_LITERT_CPU_ACCELERATOR_DEF "LiteRtStaticLinkedAcceleratorCpuDef"
typedef struct {
  uint64_t header;
  LiteRtAcceleratorGetNameFn get_name;
  LiteRtAcceleratorGetVersionFn get_version;
  LiteRtAcceleratorGetHardwareSupportFn get_hardware_support;
  LiteRtAcceleratorIsJitFn is_jit;
  LiteRtAcceleratorCreateDelegateFn create_delegate;
} EdgerunLiteRtAcceleratorDefPrefix;
