// edgerun: verification of .tflite model bytes (see edgerun/verify.h).
//
// A hand-written, schema-driven walk of the TFLite flatbuffer. Conventions:
//  - every read goes through Walker, which checks bounds (and alignment) before
//    touching a byte and loads little-endian values byte by byte;
//  - the walk follows the fixed shape of the schema (Model -> SubGraph -> Tensor
//    -> QuantizationParameters -> details ...), so there is no recursion at all;
//  - every table visited and every vector element examined costs one unit of a
//    work budget, so the time is linear in the file size even for files that
//    point many offsets at the same sub-table;
//  - errors carry the place (subgraph / tensor / operator / field) and the
//    offending value.
//
// Field slots (slot i = vtable entry 4 + 2*i) follow the TFLite schema as
// generated into ai_edge_litert/schema_py_generated.py (ai-edge-litert 2.3.0).
// The option-table layouts and the name tables below were extracted from that
// module by a script (field kinds only; the code around them is ours).

#include "edgerun/verify.h"

#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace edgerun {
namespace {

// ---------------------------------------------------------------------------
// Schema tables (extracted from schema_py_generated.py).
//
// An options layout has one character per field slot:
//   '1' '2' '4' '8'  scalar of that many bytes
//   'a' 'b' 'c' 'd'  vector of 1 / 2 / 4 / 8-byte scalars
//   's'              string
//   '.'              slot not in the schema any more (deprecated); not read
// ---------------------------------------------------------------------------
struct OptionsDesc {
  const char* name;
  const char* fields;
};

// BuiltinOptions: 127 members (index = union type).
constexpr OptionsDesc kBuiltinOptions[] = {
    {"NONE", ""},
    {"Conv2DOptions", "1441441"},
    {"DepthwiseConv2DOptions", "1444144"},
    {"ConcatEmbeddingsOptions", "4cc"},
    {"LSHProjectionOptions", "1"},
    {"Pool2DOptions", "144441"},
    {"SVDFOptions", "411"},
    {"RNNOptions", "11"},
    {"FullyConnectedOptions", "11111a"},
    {"SoftmaxOptions", "4"},
    {"ConcatenationOptions", "41"},
    {"AddOptions", "11"},
    {"L2NormOptions", "1"},
    {"LocalResponseNormalizationOptions", "4444"},
    {"LSTMOptions", "14411"},
    {"ResizeBilinearOptions", "..11"},
    {"CallOptions", "4"},
    {"ReshapeOptions", "c"},
    {"SkipGramOptions", "441"},
    {"SpaceToDepthOptions", "4"},
    {"EmbeddingLookupSparseOptions", "1"},
    {"MulOptions", "1"},
    {"PadOptions", ""},
    {"GatherOptions", "44"},
    {"BatchToSpaceNDOptions", ""},
    {"SpaceToBatchNDOptions", ""},
    {"TransposeOptions", ""},
    {"ReducerOptions", "1"},
    {"SubOptions", "11"},
    {"DivOptions", "1"},
    {"SqueezeOptions", "c"},
    {"SequenceRNNOptions", "111"},
    {"StridedSliceOptions", "444441"},
    {"ExpOptions", ""},
    {"TopKV2Options", ""},
    {"SplitOptions", "4"},
    {"LogSoftmaxOptions", ""},
    {"CastOptions", "11"},
    {"DequantizeOptions", ""},
    {"MaximumMinimumOptions", ""},
    {"ArgMaxOptions", "1"},
    {"LessOptions", ""},
    {"NegOptions", ""},
    {"PadV2Options", ""},
    {"GreaterOptions", ""},
    {"GreaterEqualOptions", ""},
    {"LessEqualOptions", ""},
    {"SelectOptions", ""},
    {"SliceOptions", ""},
    {"TransposeConvOptions", "14411"},
    {"SparseToDenseOptions", "1"},
    {"TileOptions", ""},
    {"ExpandDimsOptions", ""},
    {"EqualOptions", ""},
    {"NotEqualOptions", ""},
    {"ShapeOptions", "1"},
    {"PowOptions", ""},
    {"ArgMinOptions", "1"},
    {"FakeQuantOptions", "4441"},
    {"PackOptions", "44"},
    {"LogicalOrOptions", ""},
    {"OneHotOptions", "4"},
    {"LogicalAndOptions", ""},
    {"LogicalNotOptions", ""},
    {"UnpackOptions", "44"},
    {"FloorDivOptions", ""},
    {"SquareOptions", ""},
    {"ZerosLikeOptions", ""},
    {"FillOptions", ""},
    {"BidirectionalSequenceLSTMOptions", "144111"},
    {"BidirectionalSequenceRNNOptions", "1111"},
    {"UnidirectionalSequenceLSTMOptions", "144111"},
    {"FloorModOptions", ""},
    {"RangeOptions", ""},
    {"ResizeNearestNeighborOptions", "11"},
    {"LeakyReluOptions", "4"},
    {"SquaredDifferenceOptions", ""},
    {"MirrorPadOptions", "1"},
    {"AbsOptions", ""},
    {"SplitVOptions", "4"},
    {"UniqueOptions", "1"},
    {"ReverseV2Options", ""},
    {"AddNOptions", ""},
    {"GatherNdOptions", ""},
    {"CosOptions", ""},
    {"WhereOptions", ""},
    {"RankOptions", ""},
    {"ReverseSequenceOptions", "44"},
    {"MatrixDiagOptions", ""},
    {"QuantizeOptions", ""},
    {"MatrixSetDiagOptions", ""},
    {"HardSwishOptions", ""},
    {"IfOptions", "44"},
    {"WhileOptions", "44"},
    {"DepthToSpaceOptions", "4"},
    {"NonMaxSuppressionV4Options", ""},
    {"NonMaxSuppressionV5Options", ""},
    {"ScatterNdOptions", ""},
    {"SelectV2Options", ""},
    {"DensifyOptions", ""},
    {"SegmentSumOptions", ""},
    {"BatchMatMulOptions", "111"},
    {"CumsumOptions", "11"},
    {"CallOnceOptions", "4"},
    {"BroadcastToOptions", ""},
    {"Rfft2dOptions", ""},
    {"Conv3DOptions", "14441444"},
    {"HashtableOptions", "411"},
    {"HashtableFindOptions", ""},
    {"HashtableImportOptions", ""},
    {"HashtableSizeOptions", ""},
    {"VarHandleOptions", "ss"},
    {"ReadVariableOptions", ""},
    {"AssignVariableOptions", ""},
    {"RandomOptions", "88"},
    {"BucketizeOptions", "c"},
    {"GeluOptions", "1"},
    {"DynamicUpdateSliceOptions", ""},
    {"UnsortedSegmentProdOptions", ""},
    {"UnsortedSegmentMaxOptions", ""},
    {"UnsortedSegmentMinOptions", ""},
    {"UnsortedSegmentSumOptions", ""},
    {"ATan2Options", ""},
    {"SignOptions", ""},
    {"BitcastOptions", ""},
    {"BitwiseXorOptions", ""},
    {"RightShiftOptions", ""},
};
// BuiltinOptions2: 24 members (index = union type).
constexpr OptionsDesc kBuiltinOptions2[] = {
    {"NONE", ""},
    {"StablehloConcatenateOptions", "8"},
    {"StablehloBroadcastInDimOptions", "d"},
    {"StablehloSliceOptions", "ddd"},
    {"StablehloConvolutionOptions", "dddda88d88d88d88c"},
    {"StablehloCustomCallOptions", "s1s4ca"},
    {"StablehloReduceOptions", "d4"},
    {"StablehloScatterOptions", "1ddd814"},
    {"StablehloCompareOptions", "44"},
    {"StablehloDynamicSliceOptions", "d"},
    {"StablehloPadOptions", "ddd"},
    {"StablehloIotaOptions", "8"},
    {"StablehloDotGeneralOptions", "ddddc"},
    {"StablehloReduceWindowOptions", "ddddd4"},
    {"StablehloSortOptions", "814"},
    {"StablehloWhileOptions", "44"},
    {"StablehloGatherOptions", "ddd8d1"},
    {"StablehloTransposeOptions", "d"},
    {"DilateOptions", ""},
    {"StablehloRngBitGeneratorOptions", "1"},
    {"ReduceWindowOptions", "4"},
    {"StableHLOCompositeOptions", "s4a14"},
    {"StablehloShiftLeftOptions", ""},
    {"StablehloCaseOptions", "c"},
};
constexpr const char* kOperatorNames[] = {
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE",
    "DEQUANTIZE", "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED", "HASHTABLE_LOOKUP",
    "L2_NORMALIZATION", "L2_POOL_2D", "LOCAL_RESPONSE_NORMALIZATION", "LOGISTIC", "LSH_PROJECTION",
    "LSTM", "MAX_POOL_2D", "MUL", "RELU", "RELU_N1_TO_1", "RELU6", "RESHAPE", "RESIZE_BILINEAR",
    "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF", "TANH", "CONCAT_EMBEDDINGS", "SKIP_GRAM", "CALL",
    "CUSTOM", "EMBEDDING_LOOKUP_SPARSE", "PAD", "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER",
    "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND", "TRANSPOSE", "MEAN", "SUB", "DIV", "SQUEEZE",
    "UNIDIRECTIONAL_SEQUENCE_LSTM", "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN", "EXP", "TOPK_V2",
    "SPLIT", "LOG_SOFTMAX", "DELEGATE", "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST", "PRELU", "MAXIMUM",
    "ARG_MAX", "MINIMUM", "LESS", "NEG", "PADV2", "GREATER", "GREATER_EQUAL", "LESS_EQUAL",
    "SELECT", "SLICE", "SIN", "TRANSPOSE_CONV", "SPARSE_TO_DENSE", "TILE", "EXPAND_DIMS", "EQUAL",
    "NOT_EQUAL", "LOG", "SUM", "SQRT", "RSQRT", "SHAPE", "POW", "ARG_MIN", "FAKE_QUANT",
    "REDUCE_PROD", "REDUCE_MAX", "PACK", "LOGICAL_OR", "ONE_HOT", "LOGICAL_AND", "LOGICAL_NOT",
    "UNPACK", "REDUCE_MIN", "FLOOR_DIV", "REDUCE_ANY", "SQUARE", "ZEROS_LIKE", "FILL", "FLOOR_MOD",
    "RANGE", "RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU", "SQUARED_DIFFERENCE", "MIRROR_PAD", "ABS",
    "SPLIT_V", "UNIQUE", "CEIL", "REVERSE_V2", "ADD_N", "GATHER_ND", "COS", "WHERE", "RANK", "ELU",
    "REVERSE_SEQUENCE", "MATRIX_DIAG", "QUANTIZE", "MATRIX_SET_DIAG", "ROUND", "HARD_SWISH", "IF",
    "WHILE", "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5", "SCATTER_ND", "SELECT_V2",
    "DENSIFY", "SEGMENT_SUM", "BATCH_MATMUL", "PLACEHOLDER_FOR_GREATER_OP_CODES", "CUMSUM",
    "CALL_ONCE", "BROADCAST_TO", "RFFT2D", "CONV_3D", "IMAG", "REAL", "COMPLEX_ABS", "HASHTABLE",
    "HASHTABLE_FIND", "HASHTABLE_IMPORT", "HASHTABLE_SIZE", "REDUCE_ALL", "CONV_3D_TRANSPOSE",
    "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "BROADCAST_ARGS", "RANDOM_STANDARD_NORMAL",
    "BUCKETIZE", "RANDOM_UNIFORM", "MULTINOMIAL", "GELU", "DYNAMIC_UPDATE_SLICE", "RELU_0_TO_1",
    "UNSORTED_SEGMENT_PROD", "UNSORTED_SEGMENT_MAX", "UNSORTED_SEGMENT_SUM", "ATAN2",
    "UNSORTED_SEGMENT_MIN", "SIGN", "BITCAST", "BITWISE_XOR", "RIGHT_SHIFT", "STABLEHLO_LOGISTIC",
    "STABLEHLO_ADD", "STABLEHLO_DIVIDE", "STABLEHLO_MULTIPLY", "STABLEHLO_MAXIMUM",
    "STABLEHLO_RESHAPE", "STABLEHLO_CLAMP", "STABLEHLO_CONCATENATE", "STABLEHLO_BROADCAST_IN_DIM",
    "STABLEHLO_CONVOLUTION", "STABLEHLO_SLICE", "STABLEHLO_CUSTOM_CALL", "STABLEHLO_REDUCE",
    "STABLEHLO_ABS", "STABLEHLO_AND", "STABLEHLO_COSINE", "STABLEHLO_EXPONENTIAL",
    "STABLEHLO_FLOOR", "STABLEHLO_LOG", "STABLEHLO_MINIMUM", "STABLEHLO_NEGATE", "STABLEHLO_OR",
    "STABLEHLO_POWER", "STABLEHLO_REMAINDER", "STABLEHLO_RSQRT", "STABLEHLO_SELECT",
    "STABLEHLO_SUBTRACT", "STABLEHLO_TANH", "STABLEHLO_SCATTER", "STABLEHLO_COMPARE",
    "STABLEHLO_CONVERT", "STABLEHLO_DYNAMIC_SLICE", "STABLEHLO_DYNAMIC_UPDATE_SLICE",
    "STABLEHLO_PAD", "STABLEHLO_IOTA", "STABLEHLO_DOT_GENERAL", "STABLEHLO_REDUCE_WINDOW",
    "STABLEHLO_SORT", "STABLEHLO_WHILE", "STABLEHLO_GATHER", "STABLEHLO_TRANSPOSE", "DILATE",
    "STABLEHLO_RNG_BIT_GENERATOR", "REDUCE_WINDOW", "STABLEHLO_COMPOSITE", "STABLEHLO_SHIFT_LEFT",
    "STABLEHLO_CBRT", "STABLEHLO_CASE",
};
constexpr const char* kTensorTypeNames[] = {
    "FLOAT32", "FLOAT16", "INT32", "UINT8", "INT64", "STRING", "BOOL", "INT16", "COMPLEX64", "INT8", "FLOAT64", "COMPLEX128", "UINT64", "RESOURCE", "VARIANT", "UINT32", "UINT16", "INT4", "BFLOAT16", "INT2", "UINT4", "FLOAT8_E4M3FN", "FLOAT8_E5M2",
};

constexpr int kNumBuiltinOptions = int(sizeof(kBuiltinOptions) / sizeof(kBuiltinOptions[0]));
constexpr int kNumBuiltinOptions2 = int(sizeof(kBuiltinOptions2) / sizeof(kBuiltinOptions2[0]));
constexpr int kNumBuiltinOperators = int(sizeof(kOperatorNames) / sizeof(kOperatorNames[0]));
constexpr int kNumTensorTypes = int(sizeof(kTensorTypeNames) / sizeof(kTensorTypeNames[0]));

// BuiltinOperator values the checks below refer to.
enum : int32_t {
  kOpAveragePool2D = 1,
  kOpConv2D = 3,
  kOpDepthwiseConv2D = 4,
  kOpDequantize = 6,
  kOpDensify = 124,
  kOpL2Pool2D = 12,
  kOpMaxPool2D = 17,
  kOpCall = 31,
  kOpCustom = 32,
  kOpSpaceToDepth = 26,
  kOpTransposeConv = 67,
  kOpIf = 118,
  kOpWhile = 119,
  kOpDepthToSpace = 5,
  kOpPlaceholderForGreaterOpCodes = 127,
  kOpCallOnce = 129,
  kOpConv3D = 132,
  kOpConv3DTranspose = 141,
  kOpStablehloCustomCall = 173,
  kOpStablehloReduce = 174,
  kOpStablehloScatter = 190,
  kOpStablehloReduceWindow = 198,
  kOpStablehloSort = 199,
  kOpStablehloWhile = 200,
  kOpStablehloComposite = 206,
  kOpStablehloCase = 209,
};

// BuiltinOptions / BuiltinOptions2 union values the checks below refer to.
enum : int {
  kOptConv2D = 1,
  kOptDepthwiseConv2D = 2,
  kOptPool2D = 5,
  kOptCall = 16,
  kOptSpaceToDepth = 19,
  kOptDepthToSpace = 94,
  kOptTransposeConv = 49,
  kOptIf = 92,
  kOptWhile = 93,
  kOptCallOnce = 103,
  kOptConv3D = 106,
  kOpt2StablehloCustomCall = 5,
  kOpt2StablehloReduce = 6,
  kOpt2StablehloScatter = 7,
  kOpt2StablehloReduceWindow = 13,
  kOpt2StablehloSort = 14,
  kOpt2StablehloWhile = 15,
  kOpt2StableHLOComposite = 21,
  kOpt2StablehloCase = 23,
};

// The numbers above must name what they claim in the extracted tables.
constexpr bool NameIs(const char* a, const char* b) {
  return *a == *b && (*a == '\0' || NameIs(a + 1, b + 1));
}
static_assert(NameIs(kOperatorNames[kOpAveragePool2D], "AVERAGE_POOL_2D"), "op code");
static_assert(NameIs(kOperatorNames[kOpConv2D], "CONV_2D"), "op code");
static_assert(NameIs(kOperatorNames[kOpDepthwiseConv2D], "DEPTHWISE_CONV_2D"), "op code");
static_assert(NameIs(kOperatorNames[kOpL2Pool2D], "L2_POOL_2D"), "op code");
static_assert(NameIs(kOperatorNames[kOpDequantize], "DEQUANTIZE"), "op code");
static_assert(NameIs(kOperatorNames[kOpDensify], "DENSIFY"), "op code");
static_assert(NameIs(kOperatorNames[kOpMaxPool2D], "MAX_POOL_2D"), "op code");
static_assert(NameIs(kOperatorNames[kOpCall], "CALL"), "op code");
static_assert(NameIs(kOperatorNames[kOpCustom], "CUSTOM"), "op code");
static_assert(NameIs(kOperatorNames[kOpSpaceToDepth], "SPACE_TO_DEPTH"), "op code");
static_assert(NameIs(kOperatorNames[kOpDepthToSpace], "DEPTH_TO_SPACE"), "op code");
static_assert(NameIs(kOperatorNames[kOpTransposeConv], "TRANSPOSE_CONV"), "op code");
static_assert(NameIs(kOperatorNames[kOpIf], "IF"), "op code");
static_assert(NameIs(kOperatorNames[kOpWhile], "WHILE"), "op code");
static_assert(NameIs(kOperatorNames[kOpPlaceholderForGreaterOpCodes], "PLACEHOLDER_FOR_GREATER_OP_CODES"), "op");
static_assert(NameIs(kOperatorNames[kOpCallOnce], "CALL_ONCE"), "op code");
static_assert(NameIs(kOperatorNames[kOpConv3D], "CONV_3D"), "op code");
static_assert(NameIs(kOperatorNames[kOpConv3DTranspose], "CONV_3D_TRANSPOSE"), "op code");
static_assert(NameIs(kOperatorNames[kOpStablehloCustomCall], "STABLEHLO_CUSTOM_CALL"), "op code");
static_assert(NameIs(kOperatorNames[kOpStablehloReduce], "STABLEHLO_REDUCE"), "op code");
static_assert(NameIs(kOperatorNames[kOpStablehloScatter], "STABLEHLO_SCATTER"), "op code");
static_assert(NameIs(kOperatorNames[kOpStablehloReduceWindow], "STABLEHLO_REDUCE_WINDOW"), "op code");
static_assert(NameIs(kOperatorNames[kOpStablehloSort], "STABLEHLO_SORT"), "op code");
static_assert(NameIs(kOperatorNames[kOpStablehloWhile], "STABLEHLO_WHILE"), "op code");
static_assert(NameIs(kOperatorNames[kOpStablehloComposite], "STABLEHLO_COMPOSITE"), "op code");
static_assert(NameIs(kOperatorNames[kOpStablehloCase], "STABLEHLO_CASE"), "op code");
static_assert(NameIs(kBuiltinOptions[kOptConv2D].name, "Conv2DOptions"), "options");
static_assert(NameIs(kBuiltinOptions[kOptDepthwiseConv2D].name, "DepthwiseConv2DOptions"), "options");
static_assert(NameIs(kBuiltinOptions[kOptPool2D].name, "Pool2DOptions"), "options");
static_assert(NameIs(kBuiltinOptions[kOptCall].name, "CallOptions"), "options");
static_assert(NameIs(kBuiltinOptions[kOptSpaceToDepth].name, "SpaceToDepthOptions"), "options");
static_assert(NameIs(kBuiltinOptions[kOptDepthToSpace].name, "DepthToSpaceOptions"), "options");
static_assert(NameIs(kBuiltinOptions[kOptTransposeConv].name, "TransposeConvOptions"), "options");
static_assert(NameIs(kBuiltinOptions[kOptIf].name, "IfOptions"), "options");
static_assert(NameIs(kBuiltinOptions[kOptWhile].name, "WhileOptions"), "options");
static_assert(NameIs(kBuiltinOptions[kOptCallOnce].name, "CallOnceOptions"), "options");
static_assert(NameIs(kBuiltinOptions[kOptConv3D].name, "Conv3DOptions"), "options");
static_assert(NameIs(kBuiltinOptions2[kOpt2StablehloCustomCall].name, "StablehloCustomCallOptions"), "options");
static_assert(NameIs(kBuiltinOptions2[kOpt2StablehloReduce].name, "StablehloReduceOptions"), "options");
static_assert(NameIs(kBuiltinOptions2[kOpt2StablehloScatter].name, "StablehloScatterOptions"), "options");
static_assert(NameIs(kBuiltinOptions2[kOpt2StablehloReduceWindow].name, "StablehloReduceWindowOptions"), "options");
static_assert(NameIs(kBuiltinOptions2[kOpt2StablehloSort].name, "StablehloSortOptions"), "options");
static_assert(NameIs(kBuiltinOptions2[kOpt2StablehloWhile].name, "StablehloWhileOptions"), "options");
static_assert(NameIs(kBuiltinOptions2[kOpt2StableHLOComposite].name, "StableHLOCompositeOptions"), "options");
static_assert(NameIs(kBuiltinOptions2[kOpt2StablehloCase].name, "StablehloCaseOptions"), "options");

// TensorType values with special buffer rules.
enum : int {
  kTypeString = 5,
  kTypeResource = 13,
  kTypeVariant = 14,
  kTypeInt4 = 17,
  kTypeInt2 = 19,
  kTypeUInt4 = 20,
};

// Bytes per element of each TensorType; 0 = variable size (string, resource,
// variant); sub-byte types (int4, uint4, int2) are listed as 1 and handled apart.
constexpr uint8_t kTensorTypeSize[] = {
    4,   // FLOAT32
    2,   // FLOAT16
    4,   // INT32
    1,   // UINT8
    8,   // INT64
    0,   // STRING
    1,   // BOOL
    2,   // INT16
    8,   // COMPLEX64
    1,   // INT8
    8,   // FLOAT64
    16,  // COMPLEX128
    8,   // UINT64
    0,   // RESOURCE
    0,   // VARIANT
    4,   // UINT32
    2,   // UINT16
    1,   // INT4 (packed two per byte, or one per byte)
    2,   // BFLOAT16
    1,   // INT2 (packed four per byte, or one per byte)
    1,   // UINT4 (packed two per byte, or one per byte)
    1,   // FLOAT8_E4M3FN
    1,   // FLOAT8_E5M2
};
static_assert(sizeof(kTensorTypeSize) == sizeof(kTensorTypeNames) / sizeof(kTensorTypeNames[0]),
              "one size per tensor type");

const char* OpName(int32_t code) {
  return code >= 0 && code < kNumBuiltinOperators ? kOperatorNames[code] : "?";
}
const char* TypeName(int type) {
  return type >= 0 && type < kNumTensorTypes ? kTensorTypeNames[type] : "?";
}

// Shape rules of common operators, checked when every shape involved is static:
// the runtime re-infers output shapes, and an output that grows beyond its
// declared shape overruns buffers sized from the model (LiteRT CompiledModel).
enum : uint8_t { kRuleNone = 0, kRuleSameShape = 1, kRuleBroadcast = 2, kRulePad = 3, kRuleResize = 4 };
const uint8_t* ShapeRules() {
  static const std::vector<uint8_t> rules = [] {
    static const char* const kSameShape[] = {
        "QUANTIZE", "DEQUANTIZE", "LOGISTIC", "TANH", "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "ELU",
        "HARD_SWISH", "LEAKY_RELU", "ABS", "NEG", "EXP", "LOG", "SQRT", "RSQRT", "SQUARE", "SIN", "COS", "FLOOR",
        "CEIL", "ROUND", "SIGN", "CAST", "LOGICAL_NOT", "GELU", "SOFTMAX", "LOG_SOFTMAX", "L2_NORMALIZATION",
        "LOCAL_RESPONSE_NORMALIZATION", "ZEROS_LIKE"};
    static const char* const kBroadcast[] = {
        "ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE", "POW", "FLOOR_DIV", "FLOOR_MOD",
        "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "EQUAL", "NOT_EQUAL", "LOGICAL_AND", "LOGICAL_OR"};
    static const char* const kPad[] = {"PAD", "PADV2", "MIRROR_PAD"};                       // constant paddings
    static const char* const kResize[] = {"RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"};  // constant size
    std::vector<uint8_t> r(kNumBuiltinOperators, kRuleNone);
    for (int c = 0; c < kNumBuiltinOperators; ++c) {
      for (const char* n : kSameShape) {
        if (std::strcmp(kOperatorNames[c], n) == 0) r[c] = kRuleSameShape;
      }
      for (const char* n : kBroadcast) {
        if (std::strcmp(kOperatorNames[c], n) == 0) r[c] = kRuleBroadcast;
      }
      for (const char* n : kPad) {
        if (std::strcmp(kOperatorNames[c], n) == 0) r[c] = kRulePad;
      }
      for (const char* n : kResize) {
        if (std::strcmp(kOperatorNames[c], n) == 0) r[c] = kRuleResize;
      }
    }
    return r;
  }();
  return rules.data();
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
std::string Fmt(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n < 0) return std::string("(formatting error)");
  return std::string(buf, size_t(n) < sizeof(buf) ? size_t(n) : sizeof(buf) - 1);
}

using ull = unsigned long long;
using ll = long long;

inline uint16_t LoadU16(const uint8_t* p) { return uint16_t(p[0] | (uint32_t(p[1]) << 8)); }
inline uint32_t LoadU32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
inline uint64_t LoadU64(const uint8_t* p) { return uint64_t(LoadU32(p)) | (uint64_t(LoadU32(p + 4)) << 32); }

Status Wrap(const Status& s, const std::string& where) {
  return ModelError(where + ": " + s.message());
}

// Return early with a context prefix; the context is formatted only on error.
#define VTRY(expr, ...)                                   \
  do {                                                    \
    ::edgerun::Status _vs = (expr);                       \
    if (!_vs.ok()) return Wrap(_vs, Fmt(__VA_ARGS__));    \
  } while (0)

#define VRET(expr)                    \
  do {                                \
    ::edgerun::Status _vs = (expr);   \
    if (!_vs.ok()) return _vs;        \
  } while (0)

struct TableRef {
  uint64_t pos = 0;    // absolute position of the table (its soffset)
  uint64_t vt = 0;     // absolute position of its vtable
  uint32_t vsize = 0;  // vtable size in bytes
  uint32_t tsize = 0;  // table size in bytes (inline part)
};

struct VecRef {
  uint64_t data = 0;  // absolute position of element 0
  uint32_t len = 0;
  bool present = false;
};

// Bounds-checked reader of flatbuffer primitives.
class Walker {
 public:
  Walker(const uint8_t* d, size_t n, uint64_t budget) : d_(d), n_(n), budget_(budget) {}

  const uint8_t* data() const { return d_; }
  uint64_t size() const { return n_; }

  Status Spend(uint64_t units) {
    if (units > budget_) {
      return ModelError(Fmt("verification work limit exceeded (file of %llu bytes needs more than %llu "
                            "steps; sub-tables shared too many times?)",
                            ull(n_), ull(limit())));
    }
    budget_ -= units;
    return Status();
  }
  void set_limit(uint64_t l) { limit_ = l; }
  uint64_t limit() const { return limit_; }

  Status Table(uint64_t pos, TableRef* t) {
    VRET(Spend(1));
    if (pos >= n_ || n_ - pos < 4) {
      return ModelError(Fmt("table at offset %llu lies outside the file (size %llu)", ull(pos), ull(n_)));
    }
    if (pos % 4 != 0) return ModelError(Fmt("table at offset %llu is misaligned", ull(pos)));
    int32_t so = int32_t(LoadU32(d_ + pos));
    int64_t vt = int64_t(pos) - int64_t(so);
    if (vt < 0 || uint64_t(vt) >= n_ || n_ - uint64_t(vt) < 4) {
      return ModelError(Fmt("vtable of table at offset %llu lies outside the file (at %lld, file size %llu)",
                            ull(pos), ll(vt), ull(n_)));
    }
    if (vt % 2 != 0) return ModelError(Fmt("vtable at offset %lld is misaligned", ll(vt)));
    uint32_t vsize = LoadU16(d_ + vt);
    uint32_t tsize = LoadU16(d_ + vt + 2);
    if (vsize < 4 || vsize % 2 != 0) {
      return ModelError(Fmt("vtable at offset %lld has invalid size %u", ll(vt), vsize));
    }
    if (n_ - uint64_t(vt) < vsize) {
      return ModelError(Fmt("vtable at offset %lld (size %u) runs past the end of the file (size %llu)", ll(vt),
                            vsize, ull(n_)));
    }
    if (tsize < 4) return ModelError(Fmt("table at offset %llu has invalid size %u", ull(pos), tsize));
    if (n_ - pos < tsize) {
      return ModelError(Fmt("table at offset %llu (size %u) runs past the end of the file (size %llu)", ull(pos),
                            tsize, ull(n_)));
    }
    t->pos = pos;
    t->vt = uint64_t(vt);
    t->vsize = vsize;
    t->tsize = tsize;
    return Status();
  }

  uint32_t FieldOffset(const TableRef& t, int slot) const {
    uint32_t entry = 4u + 2u * uint32_t(slot);
    if (entry + 2 > t.vsize) return 0;
    return LoadU16(d_ + t.vt + entry);
  }

  // Scalar field of `size` bytes (1, 2, 4, 8); `def` when absent.
  Status Scalar(const TableRef& t, int slot, uint32_t size, uint64_t def, uint64_t* out, const char* field) {
    *out = def;
    uint32_t fo = FieldOffset(t, slot);
    if (fo == 0) {
      *out = def;
      return Status();
    }
    if (fo < 4 || fo + size > t.tsize) {
      return ModelError(Fmt("field '%s' at offset %u lies outside its table (size %u) at %llu", field, fo, t.tsize,
                            ull(t.pos)));
    }
    uint64_t at = t.pos + fo;
    if (at % size != 0) return ModelError(Fmt("field '%s' at %llu is misaligned", field, ull(at)));
    switch (size) {
      case 1: *out = d_[at]; break;
      case 2: *out = LoadU16(d_ + at); break;
      case 4: *out = LoadU32(d_ + at); break;
      default: *out = LoadU64(d_ + at); break;
    }
    return Status();
  }
  Status U8(const TableRef& t, int slot, uint8_t def, uint8_t* out, const char* f) {
    *out = def;
    uint64_t v = 0;
    VRET(Scalar(t, slot, 1, def, &v, f));
    *out = uint8_t(v);
    return Status();
  }
  Status I8(const TableRef& t, int slot, int8_t def, int8_t* out, const char* f) {
    *out = def;
    uint64_t v = 0;
    VRET(Scalar(t, slot, 1, uint8_t(def), &v, f));
    *out = int8_t(uint8_t(v));
    return Status();
  }
  Status I32(const TableRef& t, int slot, int32_t def, int32_t* out, const char* f) {
    *out = def;
    uint64_t v = 0;
    VRET(Scalar(t, slot, 4, uint32_t(def), &v, f));
    *out = int32_t(uint32_t(v));
    return Status();
  }
  Status U32(const TableRef& t, int slot, uint32_t def, uint32_t* out, const char* f) {
    *out = def;
    uint64_t v = 0;
    VRET(Scalar(t, slot, 4, def, &v, f));
    *out = uint32_t(v);
    return Status();
  }
  Status U64(const TableRef& t, int slot, uint64_t def, uint64_t* out, const char* f) {
    return Scalar(t, slot, 8, def, out, f);
  }

  // Follows the uoffset stored in a field; *present = false when absent.
  Status Offset(const TableRef& t, int slot, uint64_t* target, bool* present, const char* field) {
    *present = false;
    *target = 0;
    uint32_t fo = FieldOffset(t, slot);
    if (fo == 0) return Status();
    if (fo < 4 || fo + 4 > t.tsize) {
      return ModelError(Fmt("field '%s' at offset %u lies outside its table (size %u) at %llu", field, fo, t.tsize,
                            ull(t.pos)));
    }
    uint64_t at = t.pos + fo;
    if (at % 4 != 0) return ModelError(Fmt("field '%s' at %llu is misaligned", field, ull(at)));
    uint64_t tgt = at + LoadU32(d_ + at);
    if (tgt >= n_) {
      return ModelError(Fmt("field '%s' points outside the file (to %llu, file size %llu)", field, ull(tgt),
                            ull(n_)));
    }
    *target = tgt;
    *present = true;
    return Status();
  }

  // Vector (or string, elem_size 1 plus a terminating NUL) at absolute pos.
  Status VectorAt(uint64_t pos, uint32_t elem_size, bool is_string, VecRef* v, const char* field) {
    if (pos >= n_ || n_ - pos < 4) {
      return ModelError(Fmt("%s '%s' at offset %llu lies outside the file (size %llu)",
                            is_string ? "string" : "vector", field, ull(pos), ull(n_)));
    }
    if (pos % 4 != 0) {
      return ModelError(Fmt("%s '%s' at offset %llu is misaligned", is_string ? "string" : "vector", field,
                            ull(pos)));
    }
    uint32_t len = LoadU32(d_ + pos);
    uint64_t bytes = uint64_t(len) * elem_size + (is_string ? 1 : 0);
    if (bytes > n_ - pos - 4) {
      if (is_string) {
        return ModelError(Fmt("string '%s' at offset %llu of length %u runs past the end of the file (size %llu)",
                              field, ull(pos), len, ull(n_)));
      }
      return ModelError(Fmt("vector '%s' at offset %llu with %u elements of %u bytes runs past the end of the "
                            "file (size %llu)",
                            field, ull(pos), len, elem_size, ull(n_)));
    }
    if (is_string && d_[pos + 4 + len] != 0) {
      return ModelError(Fmt("string '%s' at offset %llu is not NUL-terminated", field, ull(pos)));
    }
    v->data = pos + 4;
    v->len = len;
    v->present = true;
    return Status();
  }

  Status Vector(const TableRef& t, int slot, uint32_t elem_size, VecRef* v, const char* field) {
    *v = VecRef();
    uint64_t pos = 0;
    bool present = false;
    VRET(Offset(t, slot, &pos, &present, field));
    if (!present) return Status();
    return VectorAt(pos, elem_size, false, v, field);
  }

  Status String(const TableRef& t, int slot, VecRef* s, const char* field) {
    *s = VecRef();
    uint64_t pos = 0;
    bool present = false;
    VRET(Offset(t, slot, &pos, &present, field));
    if (!present) return Status();
    return VectorAt(pos, 1, true, s, field);
  }

  // Sub-table referenced by a field.
  Status Child(const TableRef& t, int slot, TableRef* c, bool* present, const char* field) {
    uint64_t pos = 0;
    VRET(Offset(t, slot, &pos, present, field));
    if (!*present) return Status();
    VTRY(Table(pos, c), "field '%s'", field);
    return Status();
  }

  // Element i of a vector of tables.
  Status VecTable(const VecRef& v, uint32_t i, TableRef* t) {
    uint64_t at = v.data + 4ull * i;
    uint64_t tgt = at + LoadU32(d_ + at);
    if (tgt >= n_) {
      return ModelError(Fmt("element points outside the file (to %llu, file size %llu)", ull(tgt), ull(n_)));
    }
    return Table(tgt, t);
  }

  int32_t VI32(const VecRef& v, uint32_t i) const { return int32_t(LoadU32(d_ + v.data + 4ull * i)); }
  uint32_t VU32(const VecRef& v, uint32_t i) const { return LoadU32(d_ + v.data + 4ull * i); }
  uint32_t VU16(const VecRef& v, uint32_t i) const { return LoadU16(d_ + v.data + 2ull * i); }
  uint32_t VU8(const VecRef& v, uint32_t i) const { return d_[v.data + i]; }
  int64_t VI64(const VecRef& v, uint32_t i) const { return int64_t(LoadU64(d_ + v.data + 8ull * i)); }

  // Printable, shortened copy of a verified string (for messages only).
  std::string Printable(const VecRef& s) const {
    if (!s.present) return std::string();
    std::string out;
    uint32_t n = s.len < 48 ? s.len : 48;
    for (uint32_t i = 0; i < n; ++i) {
      char c = char(d_[s.data + i]);
      out += (c >= 32 && c < 127) ? c : '?';
    }
    if (s.len > n) out += "...";
    return out;
  }

 private:
  const uint8_t* d_;
  uint64_t n_;
  uint64_t budget_;
  uint64_t limit_ = 0;
};

// ---------------------------------------------------------------------------
// Model-level state collected during the walk
// ---------------------------------------------------------------------------
struct BufferInfo {
  uint64_t pos = 0;   // absolute position of the bytes
  uint64_t size = 0;  // number of bytes (0 = no data)
};

struct TensorInfo {
  VecRef shape;               // verified int32 vector (may be absent)
  uint32_t buffer = 0;        // buffer index (valid when has_data)
  int8_t type = 0;
  bool is_variable = false;
  bool has_data = false;       // non-empty buffer
  bool sparse = false;         // has sparsity parameters
  bool dynamic = false;        // some dim is -1 in the shape or the shape signature
  bool zero_elements = false;  // static shape with a 0 dim (needs no data)
};

struct SubgraphInfo {
  uint32_t ntensors = 0;
  std::vector<int32_t> callees;  // subgraphs referenced by its operators
};

std::string ShapeString(Walker& w, const VecRef& shape) {
  std::string s = "[";
  uint32_t n = shape.len < 12 ? shape.len : 12;
  for (uint32_t i = 0; i < n; ++i) {
    if (i) s += ",";
    s += std::to_string(w.VI32(shape, i));
  }
  if (shape.len > n) s += ",...";
  s += "]";
  return s;
}

// ---------------------------------------------------------------------------
// FlexBuffers (custom options of the custom operators the runtime itself
// implements; they parse their options without checking them)
// ---------------------------------------------------------------------------
class FlexVerifier {
 public:
  FlexVerifier(Walker& w, uint64_t begin, uint64_t size) : w_(w), b_(w.data() + begin), n_(size) {}

  Status Run() {
    if (n_ < 3) return ModelError(Fmt("FlexBuffer of %llu bytes is too small", ull(n_)));
    uint32_t root_width = b_[n_ - 1];
    if (root_width != 1 && root_width != 2 && root_width != 4 && root_width != 8) {
      return ModelError(Fmt("FlexBuffer root width %u is invalid", root_width));
    }
    if (n_ < 2ull + root_width) return ModelError("FlexBuffer is too small for its root");
    return Value(n_ - 2 - root_width, root_width, b_[n_ - 2], 0);
  }

 private:
  enum : uint32_t {
    kNull = 0, kInt = 1, kUInt = 2, kFloat = 3, kKey = 4, kString = 5, kIndirectInt = 6, kIndirectUInt = 7,
    kIndirectFloat = 8, kMap = 9, kVector = 10, kVectorInt = 11, kVectorUInt = 12, kVectorFloat = 13,
    kVectorKey = 14, kVectorStringDeprecated = 15, kVectorInt2 = 16, kVectorFloat4 = 24, kBlob = 25, kBool = 26,
    kVectorBool = 36,
  };

  bool Fits(uint64_t pos, uint64_t len) const { return pos <= n_ && len <= n_ - pos; }
  uint64_t ReadUInt(uint64_t pos, uint32_t width) const {
    switch (width) {
      case 1: return b_[pos];
      case 2: return LoadU16(b_ + pos);
      case 4: return LoadU32(b_ + pos);
      default: return LoadU64(b_ + pos);
    }
  }
  static bool ValidWidth(uint64_t w) { return w == 1 || w == 2 || w == 4 || w == 8; }

  // Follows the (backward) offset stored in the slot at `pos`.
  Status Target(uint64_t pos, uint32_t width, uint64_t* target) const {
    uint64_t off = ReadUInt(pos, width);
    if (off > pos) return ModelError(Fmt("FlexBuffer offset %llu at %llu points before the start", ull(off), ull(pos)));
    *target = pos - off;
    return Status();
  }
  // Size prefix (of `width` bytes) in front of `target`.
  Status Size(uint64_t target, uint32_t width, uint64_t* len) const {
    if (target < width) return ModelError(Fmt("FlexBuffer size field before %llu is out of range", ull(target)));
    *len = ReadUInt(target - width, width);
    return Status();
  }
  Status Key(uint64_t target) {
    // NUL-terminated; scan bounded by the buffer (and paid for).
    uint64_t i = target;
    while (i < n_ && b_[i] != 0) ++i;
    VRET(w_.Spend(1 + (i - target) / 16));
    if (i >= n_) return ModelError(Fmt("FlexBuffer key at %llu is not NUL-terminated", ull(target)));
    return Status();
  }
  Status Elements(uint64_t target, uint64_t len, uint32_t width, uint64_t extra_per_elem) {
    if (len > n_ || !Fits(target, len * (width + extra_per_elem))) {
      return ModelError(Fmt("FlexBuffer vector at %llu with %llu elements runs past the end", ull(target), ull(len)));
    }
    return w_.Spend(len);
  }

  Status Value(uint64_t pos, uint32_t parent_width, uint8_t packed, int depth) {
    VRET(w_.Spend(1));
    if (depth > 32) return ModelError("FlexBuffer nesting is too deep");
    if (!Fits(pos, parent_width)) return ModelError(Fmt("FlexBuffer value at %llu runs past the end", ull(pos)));
    const uint32_t type = packed >> 2;
    const uint32_t width = 1u << (packed & 3);
    if (type == kNull || type == kInt || type == kUInt || type == kFloat || type == kBool) return Status();
    uint64_t target, len;
    VRET(Target(pos, parent_width, &target));
    switch (type) {
      case kKey:
        return Key(target);
      case kString:
      case kBlob:
        VRET(Size(target, width, &len));
        if (!Fits(target, len) || (type == kString && (!Fits(target, len + 1) || b_[target + len] != 0))) {
          return ModelError(Fmt("FlexBuffer %s at %llu of length %llu is invalid", type == kString ? "string" : "blob",
                                ull(target), ull(len)));
        }
        return Status();
      case kIndirectInt:
      case kIndirectUInt:
      case kIndirectFloat:
        if (!Fits(target, width)) return ModelError(Fmt("FlexBuffer scalar at %llu runs past the end", ull(target)));
        return Status();
      case kVectorInt:
      case kVectorUInt:
      case kVectorFloat:
      case kVectorBool:
        VRET(Size(target, width, &len));
        return Elements(target, len, width, 0);
      case kVectorKey:
      case kVectorStringDeprecated:
        VRET(Size(target, width, &len));
        VRET(Elements(target, len, width, 0));
        for (uint64_t i = 0; i < len; ++i) {
          uint64_t t;
          VRET(Target(target + i * width, width, &t));
          if (type == kVectorKey) {
            VRET(Key(t));
          } else {
            uint64_t slen;
            VRET(Size(t, width, &slen));
            if (!Fits(t, slen + 1) || b_[t + slen] != 0) return ModelError("FlexBuffer string is invalid");
          }
        }
        return Status();
      case kMap:
      case kVector: {
        VRET(Size(target, width, &len));
        VRET(Elements(target, len, width, 1));  // values, then one type byte each
        if (type == kMap) {
          if (target < 3ull * width) return ModelError("FlexBuffer map header is out of range");
          uint64_t keys_field = target - 3ull * width;
          uint64_t keys;
          VRET(Target(keys_field, width, &keys));
          uint64_t keys_width = ReadUInt(target - 2ull * width, width);
          if (!ValidWidth(keys_width)) return ModelError("FlexBuffer map has an invalid key width");
          uint64_t klen;
          VRET(Size(keys, uint32_t(keys_width), &klen));
          if (klen != len) return ModelError("FlexBuffer map has different numbers of keys and values");
          VRET(Elements(keys, klen, uint32_t(keys_width), 0));
          for (uint64_t i = 0; i < klen; ++i) {
            uint64_t k;
            VRET(Target(keys + i * keys_width, uint32_t(keys_width), &k));
            VRET(Key(k));
          }
        }
        const uint64_t types = target + len * width;
        for (uint64_t i = 0; i < len; ++i) VRET(Value(target + i * width, width, b_[types + i], depth + 1));
        return Status();
      }
      default:
        if (type >= kVectorInt2 && type <= kVectorFloat4) {
          uint64_t count = (type - kVectorInt2) / 3 + 2;
          if (!Fits(target, count * width)) return ModelError("FlexBuffer fixed vector runs past the end");
          return Status();
        }
        return ModelError(Fmt("FlexBuffer value at %llu has unknown type %u", ull(pos), type));
    }
  }

  Walker& w_;
  const uint8_t* b_;
  uint64_t n_;
};

class ModelVerifier {
 public:
  ModelVerifier(const uint8_t* d, size_t n, const VerifyOptions& o, uint64_t budget)
      : w_(d, n, budget), o_(o) {
    w_.set_limit(budget);
  }

  Status Run();

 private:
  Status VerifyBuffers(const TableRef& model);
  Status VerifyOperatorCodes(const TableRef& model);
  Status VerifySubgraph(uint32_t si, const TableRef& sg);
  Status VerifyTensor(uint32_t si, uint32_t ti, const TableRef& t, uint32_t ntensors, TensorInfo* info);
  Status VerifyQuantization(const TableRef& q, const VecRef& shape, uint32_t ntensors);
  Status VerifySparsity(const TableRef& sp, const VecRef& shape, uint64_t* stored);
  Status VerifyIndexVector(const TableRef& dm, int type_slot, int value_slot, const char* what, VecRef* v,
                           uint32_t* elem_size);
  Status VerifyStringBuffer(const BufferInfo& b, uint64_t elements);
  Status VerifyOperator(uint32_t si, uint32_t oi, const TableRef& op, const std::vector<TensorInfo>& tensors,
                        std::vector<uint8_t>* produced, const std::vector<uint8_t>& is_input,
                        SubgraphInfo* sginfo);
  Status VerifyOptionsTable(const TableRef& t, const OptionsDesc& desc);
  Status CheckSubgraphRef(int64_t index, const char* what, SubgraphInfo* sginfo);
  template <class Where>
  Status CheckShapeRule(uint8_t rule, const VecRef& inputs, const VecRef& outputs,
                        const std::vector<TensorInfo>& tensors, const Where& where) {
    if (rule == kRulePad || rule == kRuleResize) return CheckConstShapeRule(rule, inputs, outputs, tensors, where);
    const uint32_t nin = rule == kRuleBroadcast ? 2 : 1;
    if (inputs.len < nin || outputs.len < 1) return Status();  // the kernel reports it
    int32_t idx[3] = {w_.VI32(inputs, 0), nin > 1 ? w_.VI32(inputs, 1) : 0, w_.VI32(outputs, 0)};
    const TensorInfo* t[3];
    for (uint32_t k = 0; k < 3; ++k) {
      if (k == 1 && nin < 2) {
        t[k] = nullptr;
        continue;
      }
      if (idx[k] < 0) return Status();
      t[k] = &tensors[idx[k]];
      if (t[k]->dynamic || t[k]->shape.len == 0) return Status();
    }
    const VecRef& out = t[2]->shape;
    auto dim = [&](const VecRef& v, uint32_t from_right) -> int32_t {  // 1 beyond the rank
      return from_right < v.len ? w_.VI32(v, v.len - 1 - from_right) : 1;
    };
    if (rule == kRuleSameShape) {
      const VecRef& in = t[0]->shape;
      bool same = in.len == out.len;
      for (uint32_t i = 0; same && i < in.len; ++i) same = w_.VI32(in, i) == w_.VI32(out, i);
      if (!same) {
        return ModelError(where() + Fmt(": output tensor %d has shape %s, but input tensor %d has shape %s", idx[2],
                                        ShapeString(w_, out).c_str(), idx[0], ShapeString(w_, in).c_str()));
      }
      return Status();
    }
    const VecRef& a = t[0]->shape;
    const VecRef& b = t[1]->shape;
    const uint32_t rank = a.len > b.len ? a.len : b.len;
    bool ok = out.len == rank;
    for (uint32_t i = 0; i < rank; ++i) {
      int32_t x = dim(a, i), y = dim(b, i);
      if (x != y && x != 1 && y != 1) {
        return ModelError(where() + Fmt(": input shapes %s and %s do not broadcast", ShapeString(w_, a).c_str(),
                                        ShapeString(w_, b).c_str()));
      }
      int32_t z = x == 1 ? y : x;
      if (ok && dim(out, i) != z) ok = false;
    }
    if (!ok) {
      std::string expected = "[";
      for (uint32_t i = rank; i-- > 0;) {
        int32_t x = dim(a, i), y = dim(b, i);
        expected += std::to_string(x == 1 ? y : x) + (i ? "," : "]");
      }
      return ModelError(where() + Fmt(": output tensor %d has shape %s, but inputs %s and %s broadcast to %s",
                                      idx[2], ShapeString(w_, out).c_str(), ShapeString(w_, a).c_str(),
                                      ShapeString(w_, b).c_str(), expected.c_str()));
    }
    return Status();
  }

  // Output shape = f(input shape, constant second input): PAD family (paddings
  // [rank, 2]) and RESIZE family (size [2] of an NHWC input).
  template <class Where>
  Status CheckConstShapeRule(uint8_t rule, const VecRef& inputs, const VecRef& outputs,
                             const std::vector<TensorInfo>& tensors, const Where& where) {
    if (inputs.len < 2 || outputs.len < 1) return Status();
    const int32_t in = w_.VI32(inputs, 0), param = w_.VI32(inputs, 1), out = w_.VI32(outputs, 0);
    if (in < 0 || param < 0) return Status();
    const TensorInfo& ti = tensors[in];
    const TensorInfo& tp = tensors[param];
    const TensorInfo& to = tensors[out];
    if (ti.dynamic || to.dynamic || !tp.has_data || tp.sparse || ti.shape.len == 0) return Status();
    const int psize = tp.type == 2 ? 4 : tp.type == 4 ? 8 : 0;  // INT32 / INT64
    if (psize == 0) return Status();
    const BufferInfo& b = buffers_[tp.buffer];
    const uint8_t* p = w_.data() + b.pos;
    auto param_at = [&](uint64_t i) -> int64_t {
      return psize == 4 ? int64_t(int32_t(LoadU32(p + 4 * i))) : int64_t(LoadU64(p + 8 * i));
    };
    const uint32_t rank = ti.shape.len;
    std::vector<int64_t> expected(rank);
    for (uint32_t i = 0; i < rank; ++i) expected[i] = w_.VI32(ti.shape, i);
    if (rule == kRulePad) {
      if (b.size != uint64_t(rank) * 2 * psize) return Status();  // shape [rank, 2] (buffer size verified)
      for (uint32_t i = 0; i < rank; ++i) {
        int64_t lo = param_at(2 * i), hi = param_at(2 * i + 1);
        if (lo < 0 || hi < 0 || lo > INT32_MAX || hi > INT32_MAX) {
          return ModelError(where() + Fmt(": padding [%lld, %lld] of dimension %u is invalid", ll(lo), ll(hi), i));
        }
        expected[i] += lo + hi;
      }
    } else {
      if (rank != 4 || b.size != 2ull * psize) return Status();
      expected[1] = param_at(0);
      expected[2] = param_at(1);
    }
    bool same = to.shape.len == rank;
    for (uint32_t i = 0; same && i < rank; ++i) same = int64_t(w_.VI32(to.shape, i)) == expected[i];
    if (!same) {
      std::string e = "[";
      for (uint32_t i = 0; i < rank; ++i) e += std::to_string(expected[i]) + (i + 1 < rank ? "," : "]");
      return ModelError(where() + Fmt(": output tensor %d has shape %s, but input %s with constant %s tensor %d "
                                      "gives %s",
                                      out, ShapeString(w_, to.shape).c_str(), ShapeString(w_, ti.shape).c_str(),
                                      rule == kRulePad ? "paddings" : "size", param, e.c_str()));
    }
    return Status();
  }

  bool IsFlexbufferCustomOp(const VecRef& name) const {
    static const char* const kNames[] = {"TFLite_Detection_PostProcess", "Mfcc", "AudioSpectrogram"};
    if (!name.present) return false;
    for (const char* n : kNames) {
      if (name.len == std::strlen(n) && std::memcmp(w_.data() + name.data, n, name.len) == 0) return true;
    }
    return false;
  }
  Status VerifySignatures(const TableRef& model);
  Status VerifyMetadata(const TableRef& model);
  Status VerifyExternalBuffers(const TableRef& model);
  Status CheckCallGraph();

  Walker w_;
  const VerifyOptions& o_;
  std::vector<BufferInfo> buffers_;
  std::vector<int32_t> opcodes_;  // effective builtin code per operator code
  std::vector<VecRef> custom_codes_;  // custom_code string per operator code
  std::vector<SubgraphInfo> subgraphs_;
  std::vector<uint32_t> external_buffer_ids_;
  uint32_t nsubgraphs_ = 0;
};

// ---------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------
Status ModelVerifier::Run() {
  const uint8_t* d = w_.data();
  const uint64_t n = w_.size();
  if (n < 16) return ModelError(Fmt("file too small to be a TFLite model (%llu bytes)", ull(n)));
  if (std::memcmp(d + 4, "TFL3", 4) != 0) {
    return ModelError("not a TFLite model: file identifier (bytes 4..8) is not \"TFL3\"");
  }
  TableRef model;
  VTRY(w_.Table(LoadU32(d), &model), "model root table");

  uint32_t version;
  VTRY(w_.U32(model, 0, 0, &version, "version"), "model");
  if (version != 3) return ModelError(Fmt("model: schema version %u is not supported (expected 3)", version));

  VecRef desc;
  VTRY(w_.String(model, 3, &desc, "description"), "model");

  VRET(VerifyExternalBuffers(model));
  VRET(VerifyBuffers(model));
  VRET(VerifyOperatorCodes(model));

  VecRef sgs;
  VTRY(w_.Vector(model, 2, 4, &sgs, "subgraphs"), "model");
  if (!sgs.present || sgs.len == 0) return ModelError("model has no subgraphs");
  nsubgraphs_ = sgs.len;
  VRET(w_.Spend(sgs.len));
  subgraphs_.resize(sgs.len);
  for (uint32_t si = 0; si < sgs.len; ++si) {
    TableRef sg;
    VTRY(w_.VecTable(sgs, si, &sg), "subgraph %u", si);
    VRET(VerifySubgraph(si, sg));
  }
  VRET(VerifySignatures(model));
  VRET(VerifyMetadata(model));
  VRET(CheckCallGraph());
  return Status();
}

Status ModelVerifier::VerifyBuffers(const TableRef& model) {
  VecRef bufs;
  VTRY(w_.Vector(model, 4, 4, &bufs, "buffers"), "model");
  if (!bufs.present) return Status();
  VRET(w_.Spend(bufs.len));
  buffers_.resize(bufs.len);
  const uint64_t n = w_.size();
  for (uint32_t bi = 0; bi < bufs.len; ++bi) {
    TableRef b;
    VTRY(w_.VecTable(bufs, bi, &b), "buffer %u", bi);
    VecRef data;
    uint64_t offset, size;
    VTRY(w_.Vector(b, 0, 1, &data, "data"), "buffer %u", bi);
    VTRY(w_.U64(b, 1, 0, &offset, "offset"), "buffer %u", bi);
    VTRY(w_.U64(b, 2, 0, &size, "size"), "buffer %u", bi);
    BufferInfo& info = buffers_[bi];
    if (offset > 1) {
      // Large-model layout: the bytes live after the flatbuffer, `offset` from the start of the file.
      if (data.present && data.len > 0) {
        return ModelError(Fmt("buffer %u has both inline data (%u bytes) and an external offset %llu", bi,
                              data.len, ull(offset)));
      }
      if (offset > n || size > n - offset) {
        return ModelError(Fmt("buffer %u: external data at offset %llu with size %llu lies outside the file "
                              "(size %llu)",
                              bi, ull(offset), ull(size), ull(n)));
      }
      info.pos = offset;
      info.size = size;
    } else {
      info.pos = data.data;
      info.size = data.present ? data.len : 0;
    }
  }
  return Status();
}

Status ModelVerifier::VerifyOperatorCodes(const TableRef& model) {
  VecRef codes;
  VTRY(w_.Vector(model, 1, 4, &codes, "operator_codes"), "model");
  if (!codes.present) return Status();
  VRET(w_.Spend(codes.len));
  opcodes_.resize(codes.len);
  custom_codes_.resize(codes.len);
  for (uint32_t ci = 0; ci < codes.len; ++ci) {
    TableRef c;
    VTRY(w_.VecTable(codes, ci, &c), "operator code %u", ci);
    int8_t deprecated_code;
    int32_t code, version;
    VecRef custom;
    VTRY(w_.I8(c, 0, 0, &deprecated_code, "deprecated_builtin_code"), "operator code %u", ci);
    VTRY(w_.String(c, 1, &custom, "custom_code"), "operator code %u", ci);
    VTRY(w_.I32(c, 2, 1, &version, "version"), "operator code %u", ci);
    VTRY(w_.I32(c, 3, 0, &code, "builtin_code"), "operator code %u", ci);
    if (deprecated_code < 0) {
      return ModelError(Fmt("operator code %u: deprecated_builtin_code %d is not a builtin operator", ci,
                            int(deprecated_code)));
    }
    if (code < 0 || code >= kNumBuiltinOperators) {
      return ModelError(Fmt("operator code %u: builtin_code %d is not a known builtin operator (0..%d)", ci, code,
                            kNumBuiltinOperators - 1));
    }
    // The runtime uses the larger of the two fields (older files fill only the deprecated one).
    int32_t effective = code > deprecated_code ? code : int32_t(deprecated_code);
    if (effective == kOpPlaceholderForGreaterOpCodes) {
      return ModelError(Fmt("operator code %u: deprecated_builtin_code says the operator is in builtin_code, "
                            "but builtin_code is %d",
                            ci, code));
    }
    if (version < 1 || version > 1000) {
      return ModelError(Fmt("operator code %u (%s): version %d is out of range (1..1000)", ci, OpName(effective),
                            version));
    }
    if (effective == kOpCustom && (!custom.present || custom.len == 0)) {
      return ModelError(Fmt("operator code %u: CUSTOM operator without a custom_code name", ci));
    }
    opcodes_[ci] = effective;
    custom_codes_[ci] = custom;
  }
  return Status();
}

// ---------------------------------------------------------------------------
// Subgraph
// ---------------------------------------------------------------------------
Status ModelVerifier::VerifySubgraph(uint32_t si, const TableRef& sg) {
  VecRef tensors, inputs, outputs, ops, name;
  VTRY(w_.Vector(sg, 0, 4, &tensors, "tensors"), "subgraph %u", si);
  VTRY(w_.Vector(sg, 1, 4, &inputs, "inputs"), "subgraph %u", si);
  VTRY(w_.Vector(sg, 2, 4, &outputs, "outputs"), "subgraph %u", si);
  VTRY(w_.Vector(sg, 3, 4, &ops, "operators"), "subgraph %u", si);
  VTRY(w_.String(sg, 4, &name, "name"), "subgraph %u", si);
  int32_t debug_index;
  VTRY(w_.I32(sg, 5, 0, &debug_index, "debug_metadata_index"), "subgraph %u", si);

  const uint32_t nt = tensors.present ? tensors.len : 0;
  SubgraphInfo& info = subgraphs_[si];
  info.ntensors = nt;

  VRET(w_.Spend(uint64_t(nt) + inputs.len + outputs.len));
  std::vector<TensorInfo> tinfo(nt);
  for (uint32_t ti = 0; ti < nt; ++ti) {
    TableRef t;
    VTRY(w_.VecTable(tensors, ti, &t), "subgraph %u tensor %u", si, ti);
    VRET(VerifyTensor(si, ti, t, nt, &tinfo[ti]));
  }

  std::vector<uint8_t> is_input(nt, 0);
  for (uint32_t i = 0; i < inputs.len; ++i) {
    int32_t v = w_.VI32(inputs, i);
    if (v < 0 || uint32_t(v) >= nt) {
      return ModelError(Fmt("subgraph %u: input %u is tensor index %d, out of range (subgraph has %u tensors)", si,
                            i, v, nt));
    }
    is_input[v] = 1;
  }
  for (uint32_t i = 0; i < outputs.len; ++i) {
    int32_t v = w_.VI32(outputs, i);
    if (v < 0 || uint32_t(v) >= nt) {
      return ModelError(Fmt("subgraph %u: output %u is tensor index %d, out of range (subgraph has %u tensors)",
                            si, i, v, nt));
    }
  }

  if (ops.present) {
    VRET(w_.Spend(ops.len));
    std::vector<uint8_t> produced(nt, 0);
    for (uint32_t oi = 0; oi < ops.len; ++oi) {
      TableRef op;
      VTRY(w_.VecTable(ops, oi, &op), "subgraph %u operator %u", si, oi);
      VRET(VerifyOperator(si, oi, op, tinfo, &produced, is_input, &info));
    }
  }
  return Status();
}

// ---------------------------------------------------------------------------
// Tensor
// ---------------------------------------------------------------------------
Status ModelVerifier::VerifyTensor(uint32_t si, uint32_t ti, const TableRef& t, uint32_t ntensors,
                                   TensorInfo* info) {
  // Name first, so that later messages can show it.
  VecRef name;
  VTRY(w_.String(t, 3, &name, "name"), "subgraph %u tensor %u", si, ti);
  auto where = [&]() {
    return name.present ? Fmt("subgraph %u tensor %u ('%s')", si, ti, w_.Printable(name).c_str())
                        : Fmt("subgraph %u tensor %u", si, ti);
  };
#define TTRY(expr)                                     \
  do {                                                 \
    ::edgerun::Status _ts = (expr);                    \
    if (!_ts.ok()) return Wrap(_ts, where());          \
  } while (0)

  VecRef shape, signature, variants;
  int8_t type;
  uint32_t buffer, external_buffer;
  uint8_t is_variable, has_rank;
  TTRY(w_.Vector(t, 0, 4, &shape, "shape"));
  TTRY(w_.I8(t, 1, 0, &type, "type"));
  TTRY(w_.U32(t, 2, 0, &buffer, "buffer"));
  TTRY(w_.U8(t, 5, 0, &is_variable, "is_variable"));
  TTRY(w_.Vector(t, 7, 4, &signature, "shape_signature"));
  TTRY(w_.U8(t, 8, 0, &has_rank, "has_rank"));
  TTRY(w_.Vector(t, 9, 4, &variants, "variant_tensors"));
  TTRY(w_.U32(t, 10, 0, &external_buffer, "external_buffer"));
  VRET(w_.Spend(uint64_t(shape.len) + signature.len));

  if (type < 0 || type >= kNumTensorTypes) {
    return ModelError(where() + Fmt(": tensor type %d is not a known type (0..%d)", int(type), kNumTensorTypes - 1));
  }
  info->type = type;
  info->is_variable = is_variable != 0;
  info->shape = shape;

  // Shape: dims >= 0, or -1 where the shape signature marks the dim dynamic.
  if (signature.present && signature.len != shape.len && shape.len != 0) {
    return ModelError(where() + Fmt(": shape %s and shape_signature have different ranks (%u vs %u)",
                                    ShapeString(w_, shape).c_str(), shape.len, signature.len));
  }
  bool dynamic = false;
  bool has_zero = false;
  uint64_t elements = 1;  // product of dims, 0 and -1 counted as 1
  for (uint32_t i = 0; i < shape.len; ++i) {
    int32_t dim = w_.VI32(shape, i);
    if (dim < 0) {
      bool allowed = dim == -1 && signature.present && i < signature.len && w_.VI32(signature, i) == -1;
      if (!allowed) {
        return ModelError(where() + Fmt(": shape %s has invalid dimension %d at index %u",
                                        ShapeString(w_, shape).c_str(), dim, i));
      }
      dynamic = true;
      continue;
    }
    if (dim == 0) {
      has_zero = true;
      continue;
    }
    if (elements > uint64_t(o_.max_tensor_elements) / uint64_t(dim)) {
      return ModelError(where() + Fmt(": shape %s has more than %llu elements", ShapeString(w_, shape).c_str(),
                                      ull(o_.max_tensor_elements)));
    }
    elements *= uint64_t(dim);
  }
  for (uint32_t i = 0; i < signature.len; ++i) {
    int32_t dim = w_.VI32(signature, i);
    if (dim < -1) {
      return ModelError(where() + Fmt(": shape_signature has invalid dimension %d at index %u", dim, i));
    }
  }
  for (uint32_t i = 0; i < signature.len && !dynamic; ++i) info->dynamic = w_.VI32(signature, i) == -1;
  info->dynamic = info->dynamic || dynamic;
  const uint64_t count = has_zero ? 0 : elements;  // true element count when static
  info->zero_elements = has_zero && !dynamic;

  // Variant subtypes.
  if (variants.present) {
    VRET(w_.Spend(variants.len));
    for (uint32_t vi = 0; vi < variants.len; ++vi) {
      TableRef v;
      VecRef vshape;
      int8_t vtype;
      uint8_t vrank;
      VTRY(w_.VecTable(variants, vi, &v), "%s: variant_tensors[%u]", where().c_str(), vi);
      TTRY(w_.Vector(v, 0, 4, &vshape, "variant shape"));
      TTRY(w_.I8(v, 1, 0, &vtype, "variant type"));
      TTRY(w_.U8(v, 2, 0, &vrank, "variant has_rank"));
      VRET(w_.Spend(vshape.len));
      if (vtype < 0 || vtype >= kNumTensorTypes) {
        return ModelError(where() + Fmt(": variant_tensors[%u] type %d is not a known type", vi, int(vtype)));
      }
      for (uint32_t i = 0; i < vshape.len; ++i) {
        if (w_.VI32(vshape, i) < -1) {
          return ModelError(where() + Fmt(": variant_tensors[%u] has invalid dimension %d", vi,
                                          w_.VI32(vshape, i)));
        }
      }
    }
  }

  // Buffer reference.
  const uint32_t nbuffers = uint32_t(buffers_.size());
  if (buffer >= nbuffers && !(buffer == 0 && nbuffers == 0)) {
    return ModelError(where() + Fmt(": buffer index %u out of range (model has %u buffers)", buffer, nbuffers));
  }
  const BufferInfo none;
  const BufferInfo& b = nbuffers ? buffers_[buffer] : none;
  info->has_data = b.size > 0;
  info->buffer = buffer;

  if (external_buffer != 0) {
    if (!std::binary_search(external_buffer_ids_.begin(), external_buffer_ids_.end(), external_buffer)) {
      return ModelError(where() + Fmt(": external_buffer id %u does not name an external buffer of the model",
                                      external_buffer));
    }
  }

  // Quantization.
  TableRef q;
  bool has_q;
  TTRY(w_.Child(t, 4, &q, &has_q, "quantization"));
  if (has_q) TTRY(VerifyQuantization(q, shape, ntensors));

  // Sparsity: the buffer then holds only the stored (non-zero) values.
  TableRef sp;
  bool has_sp;
  TTRY(w_.Child(t, 6, &sp, &has_sp, "sparsity"));
  uint64_t stored = count;
  info->sparse = has_sp;
  if (has_sp) {
    if (dynamic) return ModelError(where() + ": sparse tensor with a dynamic shape");
    TTRY(VerifySparsity(sp, shape, &stored));
  }

  // Buffer size against shape x element size.
  if (b.size > 0) {
    if (dynamic) {
      return ModelError(where() + Fmt(": constant tensor (buffer %u) has a dynamic shape %s", buffer,
                                      ShapeString(w_, shape).c_str()));
    }
    if (type == kTypeString) {
      if (has_sp) return ModelError(where() + ": sparse string tensor");
      TTRY(VerifyStringBuffer(b, count));
    } else if (type != kTypeResource && type != kTypeVariant) {
      uint64_t need = stored * kTensorTypeSize[int(type)];
      uint64_t packed = need;
      if (type == kTypeInt4 || type == kTypeUInt4) packed = (stored + 1) / 2;
      if (type == kTypeInt2) packed = (stored + 3) / 4;
      if (b.size != need && b.size != packed) {
        return ModelError(where() + Fmt(": buffer %u holds %llu bytes, but %s%s %s needs %llu bytes", buffer,
                                        ull(b.size), has_sp ? "sparse " : "", ShapeString(w_, shape).c_str(),
                                        TypeName(type), ull(packed)));
      }
    }
  }
#undef TTRY
  return Status();
}

Status ModelVerifier::VerifyStringBuffer(const BufferInfo& b, uint64_t elements) {
  // Layout: int32 count, int32 offsets[count + 1] (from the start of the buffer), then the bytes.
  const uint8_t* p = w_.data() + b.pos;
  if (b.size < 4) return ModelError(Fmt("string buffer of %llu bytes has no header", ull(b.size)));
  uint32_t count = LoadU32(p);
  if (count != elements) {
    return ModelError(Fmt("string buffer holds %u strings, but the shape has %llu elements", count, ull(elements)));
  }
  uint64_t header = 4ull * (uint64_t(count) + 2);
  if (header > b.size) {
    return ModelError(Fmt("string buffer of %llu bytes is too small for %u strings", ull(b.size), count));
  }
  VRET(w_.Spend(uint64_t(count) + 1));
  uint64_t prev = header;
  for (uint64_t i = 0; i <= count; ++i) {
    uint64_t off = LoadU32(p + 4 + 4 * i);
    if (off < prev || off > b.size) {
      return ModelError(Fmt("string buffer offset %llu of entry %llu is out of order or out of range "
                            "(buffer has %llu bytes)",
                            ull(off), ull(i), ull(b.size)));
    }
    prev = off;
  }
  if (prev != b.size) {
    return ModelError(Fmt("string buffer ends at %llu but holds %llu bytes", ull(prev), ull(b.size)));
  }
  return Status();
}

// ---------------------------------------------------------------------------
// Quantization
// ---------------------------------------------------------------------------
Status ModelVerifier::VerifyQuantization(const TableRef& q, const VecRef& shape, uint32_t ntensors) {
  VecRef min, max, scale, zero_point;
  uint8_t details_type;
  int32_t qdim;
  VRET(w_.Vector(q, 0, 4, &min, "min"));
  VRET(w_.Vector(q, 1, 4, &max, "max"));
  VRET(w_.Vector(q, 2, 4, &scale, "scale"));
  VRET(w_.Vector(q, 3, 8, &zero_point, "zero_point"));
  VRET(w_.U8(q, 4, 0, &details_type, "details_type"));
  VRET(w_.I32(q, 6, 0, &qdim, "quantized_dimension"));
  if (details_type > 3) {
    return ModelError(Fmt("quantization details type %u is not known (0..3)", details_type));
  }
  if (min.present && max.present && min.len != max.len) {
    return ModelError(Fmt("quantization min and max have different lengths (%u vs %u)", min.len, max.len));
  }
  const uint32_t nscale = scale.present ? scale.len : 0;
  const uint32_t nzp = zero_point.present ? zero_point.len : 0;
  if (nscale > 0 || nzp > 0) {
    if (nscale != nzp) {
      return ModelError(Fmt("quantization has %u scales but %u zero points", nscale, nzp));
    }
    if (qdim < 0 || (shape.len > 0 && uint32_t(qdim) >= shape.len)) {
      return ModelError(Fmt("quantized_dimension %d is out of range for rank %u", qdim, shape.len));
    }
    if (nscale != 1 && shape.len > 0) {
      int32_t dim = w_.VI32(shape, uint32_t(qdim));
      if (int64_t(nscale) != int64_t(dim)) {
        return ModelError(Fmt("quantization has %u scales, expected 1 or %d (size of quantized_dimension %d)", nscale,
                              dim, qdim));
      }
    }
  }
  if (details_type != 0) {
    TableRef det;
    bool present;
    VRET(w_.Child(q, 5, &det, &present, "details"));
    if (present) {
      if (details_type == 1) {  // CustomQuantization { custom: [ubyte] }
        VecRef custom;
        VRET(w_.Vector(det, 0, 1, &custom, "custom"));
      } else {  // BlockwiseQuantization / MultiAxisQuantization: tensor indices + block size + int vector
        int32_t scales, zero_points, block_size;
        VecRef dims;
        VRET(w_.I32(det, 0, 0, &scales, "scales"));
        VRET(w_.I32(det, 1, 0, &zero_points, "zero_points"));
        VRET(w_.I32(det, 2, 0, &block_size, "block_size"));
        VRET(w_.Vector(det, 3, 4, &dims, details_type == 2 ? "block_shape" : "quantized_dimensions"));
        if (scales < 0 || uint32_t(scales) >= ntensors) {
          return ModelError(Fmt("quantization details: scales tensor index %d out of range (subgraph has %u tensors)",
                                scales, ntensors));
        }
        if (zero_points < -1 || (zero_points >= 0 && uint32_t(zero_points) >= ntensors)) {
          return ModelError(Fmt("quantization details: zero_points tensor index %d out of range (subgraph has %u "
                                "tensors)",
                                zero_points, ntensors));
        }
        if (block_size < 0 || (details_type == 2 && block_size == 0)) {
          return ModelError(Fmt("quantization details: invalid block_size %d", block_size));
        }
      }
    }
  }
  return Status();
}

// ---------------------------------------------------------------------------
// Sparsity
// ---------------------------------------------------------------------------
Status ModelVerifier::VerifyIndexVector(const TableRef& dm, int type_slot, int value_slot, const char* what,
                                        VecRef* v, uint32_t* elem_size) {
  uint8_t type;
  VRET(w_.U8(dm, type_slot, 0, &type, what));
  if (type < 1 || type > 3) return ModelError(Fmt("%s has invalid index vector type %u", what, type));
  TableRef t;
  bool present;
  VRET(w_.Child(dm, value_slot, &t, &present, what));
  if (!present) return ModelError(Fmt("%s is missing", what));
  *elem_size = type == 1 ? 4 : type == 2 ? 2 : 1;
  VRET(w_.Vector(t, 0, *elem_size, v, what));
  if (!v->present) return ModelError(Fmt("%s has no values", what));
  return Status();
}

Status ModelVerifier::VerifySparsity(const TableRef& sp, const VecRef& shape, uint64_t* stored) {
  VecRef order, block_map, dims;
  VRET(w_.Vector(sp, 0, 4, &order, "traversal_order"));
  VRET(w_.Vector(sp, 1, 4, &block_map, "block_map"));
  VRET(w_.Vector(sp, 2, 4, &dims, "dim_metadata"));
  const uint32_t rank = shape.len;
  const uint32_t n = order.present ? order.len : 0;
  if (n < rank || n > rank + 16) {
    return ModelError(Fmt("sparsity traversal_order has %u entries for a tensor of rank %u", n, rank));
  }
  const uint32_t nblocks = n - rank;
  const uint32_t nmap = block_map.present ? block_map.len : 0;
  const uint32_t ndims = dims.present ? dims.len : 0;
  if (nmap != nblocks) {
    return ModelError(Fmt("sparsity block_map has %u entries, expected %u", nmap, nblocks));
  }
  if (ndims != n) return ModelError(Fmt("sparsity dim_metadata has %u entries, expected %u", ndims, n));
  VRET(w_.Spend(uint64_t(n) * 3));

  // traversal_order: a permutation of the tensor dims followed by a permutation of the block dims.
  std::vector<uint8_t> seen(n, 0);
  for (uint32_t j = 0; j < n; ++j) {
    int32_t d = w_.VI32(order, j);
    bool ok = j < rank ? (d >= 0 && uint32_t(d) < rank) : (uint32_t(d) >= rank && uint32_t(d) < n && d >= 0);
    if (!ok || seen[d]) return ModelError(Fmt("sparsity traversal_order entry %u (%d) is invalid", j, d));
    seen[d] = 1;
  }
  std::vector<uint64_t> expanded(n, 0);
  for (uint32_t d = 0; d < rank; ++d) {
    int32_t dim = w_.VI32(shape, d);
    if (dim < 0) return ModelError("sparse tensor with a negative dimension");
    expanded[d] = uint64_t(dim);
  }
  std::vector<uint8_t> blocked(rank, 0);
  for (uint32_t b = 0; b < nblocks; ++b) {
    int32_t d = w_.VI32(block_map, b);
    if (d < 0 || uint32_t(d) >= rank || blocked[d]) {
      return ModelError(Fmt("sparsity block_map entry %u (%d) is invalid", b, d));
    }
    blocked[d] = 1;
  }
  // Block sizes come from the (dense) metadata of the block dims.
  std::vector<TableRef> meta(n);
  for (uint32_t j = 0; j < n; ++j) VTRY(w_.VecTable(dims, j, &meta[j]), "sparsity dim_metadata %u", j);
  for (uint32_t j = 0; j < n; ++j) {
    uint32_t d = uint32_t(w_.VI32(order, j));
    if (d < rank) continue;
    int8_t format;
    int32_t dense_size;
    VRET(w_.I8(meta[j], 0, 0, &format, "format"));
    VRET(w_.I32(meta[j], 1, 0, &dense_size, "dense_size"));
    uint32_t b = d - rank;
    uint32_t orig = uint32_t(w_.VI32(block_map, b));
    if (format != 0 || dense_size <= 0 || expanded[orig] % uint64_t(dense_size) != 0) {
      return ModelError(Fmt("sparsity block dimension %u has invalid block size %d for dimension %u of size %llu",
                            b, dense_size, orig, ull(expanded[orig])));
    }
    expanded[d] = uint64_t(dense_size);
  }
  for (uint32_t b = 0; b < nblocks; ++b) {
    uint32_t orig = uint32_t(w_.VI32(block_map, b));
    expanded[orig] /= expanded[rank + b];
  }
  // Walk the dims in traversal order, counting the stored elements.
  uint64_t count = 1;
  for (uint32_t j = 0; j < n; ++j) {
    uint32_t d = uint32_t(w_.VI32(order, j));
    int8_t format;
    int32_t dense_size;
    VTRY(w_.I8(meta[j], 0, 0, &format, "format"), "sparsity dim_metadata %u", j);
    VTRY(w_.I32(meta[j], 1, 0, &dense_size, "dense_size"), "sparsity dim_metadata %u", j);
    if (format == 0) {  // DENSE
      if (dense_size < 0 || uint64_t(dense_size) != expanded[d]) {
        return ModelError(Fmt("sparsity dim_metadata %u: dense_size %d, expected %llu", j, dense_size,
                              ull(expanded[d])));
      }
      count *= expanded[d];
    } else if (format == 1) {  // SPARSE_CSR
      VecRef seg, idx;
      uint32_t seg_size, idx_size;
      VTRY(VerifyIndexVector(meta[j], 2, 3, "array_segments", &seg, &seg_size), "sparsity dim_metadata %u", j);
      VTRY(VerifyIndexVector(meta[j], 4, 5, "array_indices", &idx, &idx_size), "sparsity dim_metadata %u", j);
      if (uint64_t(seg.len) != count + 1) {
        return ModelError(Fmt("sparsity dim_metadata %u: %u array_segments, expected %llu", j, seg.len,
                              ull(count + 1)));
      }
      VRET(w_.Spend(uint64_t(seg.len) + idx.len));
      auto at = [&](const VecRef& v, uint32_t size, uint32_t i) -> uint64_t {
        return size == 4 ? uint64_t(w_.VU32(v, i)) : size == 2 ? w_.VU16(v, i) : w_.VU8(v, i);
      };
      uint64_t prev = 0;
      for (uint32_t i = 0; i < seg.len; ++i) {
        uint64_t s = at(seg, seg_size, i);
        if ((seg_size == 4 && int32_t(uint32_t(s)) < 0) || s < prev || s > idx.len || (i == 0 && s != 0)) {
          return ModelError(Fmt("sparsity dim_metadata %u: array_segments[%u] = %llu is invalid", j, i, ull(s)));
        }
        prev = s;
      }
      if (prev != idx.len) {
        return ModelError(Fmt("sparsity dim_metadata %u: last segment %llu but %u indices", j, ull(prev), idx.len));
      }
      for (uint32_t i = 0; i < idx.len; ++i) {
        uint64_t x = at(idx, idx_size, i);
        if ((idx_size == 4 && int32_t(uint32_t(x)) < 0) || x >= expanded[d]) {
          return ModelError(Fmt("sparsity dim_metadata %u: array_indices[%u] = %llu out of range (dimension size "
                                "%llu)",
                                j, i, ull(x), ull(expanded[d])));
        }
      }
      count = idx.len;
    } else {
      return ModelError(Fmt("sparsity dim_metadata %u: unknown format %d", j, int(format)));
    }
    if (count > o_.max_tensor_elements) {
      return ModelError(Fmt("sparse tensor has more than %llu elements", ull(o_.max_tensor_elements)));
    }
  }
  *stored = count;
  return Status();
}

// ---------------------------------------------------------------------------
// Operator
// ---------------------------------------------------------------------------
Status ModelVerifier::VerifyOptionsTable(const TableRef& t, const OptionsDesc& desc) {
  static const char* const kSlotNames[] = {"slot 0",  "slot 1",  "slot 2",  "slot 3",  "slot 4",  "slot 5",
                                            "slot 6",  "slot 7",  "slot 8",  "slot 9",  "slot 10", "slot 11",
                                            "slot 12", "slot 13", "slot 14", "slot 15", "slot 16", "slot 17",
                                            "slot 18", "slot 19", "slot 20", "slot 21", "slot 22", "slot 23"};
  constexpr int kMaxSlots = int(sizeof(kSlotNames) / sizeof(kSlotNames[0]));
  for (int slot = 0; slot < kMaxSlots && desc.fields[slot] != '\0'; ++slot) {
    const char k = desc.fields[slot];
    const char* field = kSlotNames[slot];
    uint64_t scalar;
    VecRef v;
    switch (k) {
      case '1': case '2': case '4': case '8':
        VRET(w_.Scalar(t, slot, uint32_t(k - '0'), 0, &scalar, field));
        break;
      case 'a': case 'b': case 'c': case 'd':
        VRET(w_.Vector(t, slot, k == 'a' ? 1 : k == 'b' ? 2 : k == 'c' ? 4 : 8, &v, field));
        VRET(w_.Spend(1));
        break;
      case 's':
        VRET(w_.String(t, slot, &v, field));
        break;
      default:
        break;
    }
  }
  return Status();
}

Status ModelVerifier::CheckSubgraphRef(int64_t index, const char* what, SubgraphInfo* sginfo) {
  if (index < 0 || uint64_t(index) >= nsubgraphs_) {
    return ModelError(Fmt("%s subgraph index %lld out of range (model has %u subgraphs)", what, ll(index),
                          nsubgraphs_));
  }
  sginfo->callees.push_back(int32_t(index));
  return Status();
}

Status ModelVerifier::VerifyOperator(uint32_t si, uint32_t oi, const TableRef& op,
                                     const std::vector<TensorInfo>& tensors, std::vector<uint8_t>* produced,
                                     const std::vector<uint8_t>& is_input, SubgraphInfo* sginfo) {
  uint32_t opcode_index;
  VTRY(w_.U32(op, 0, 0, &opcode_index, "opcode_index"), "subgraph %u operator %u", si, oi);
  if (opcode_index >= opcodes_.size()) {
    return ModelError(Fmt("subgraph %u operator %u: opcode_index %u out of range (model has %zu operator codes)", si,
                          oi, opcode_index, opcodes_.size()));
  }
  const int32_t code = opcodes_[opcode_index];
  auto where = [&]() { return Fmt("subgraph %u operator %u (%s)", si, oi, OpName(code)); };
#define OTRY(expr)                                   \
  do {                                               \
    ::edgerun::Status _os = (expr);                  \
    if (!_os.ok()) return Wrap(_os, where());        \
  } while (0)

  VecRef inputs, outputs, custom_options, mutating, intermediates;
  uint8_t opt_type, opt2_type;
  int8_t custom_format;
  uint64_t large_offset, large_size;
  int32_t debug_index;
  OTRY(w_.Vector(op, 1, 4, &inputs, "inputs"));
  OTRY(w_.Vector(op, 2, 4, &outputs, "outputs"));
  OTRY(w_.U8(op, 3, 0, &opt_type, "builtin_options_type"));
  OTRY(w_.Vector(op, 5, 1, &custom_options, "custom_options"));
  OTRY(w_.I8(op, 6, 0, &custom_format, "custom_options_format"));
  OTRY(w_.Vector(op, 7, 1, &mutating, "mutating_variable_inputs"));
  OTRY(w_.Vector(op, 8, 4, &intermediates, "intermediates"));
  OTRY(w_.U64(op, 9, 0, &large_offset, "large_custom_options_offset"));
  OTRY(w_.U64(op, 10, 0, &large_size, "large_custom_options_size"));
  OTRY(w_.U8(op, 11, 0, &opt2_type, "builtin_options_2_type"));
  OTRY(w_.I32(op, 13, -1, &debug_index, "debug_metadata_index"));
  VRET(w_.Spend(uint64_t(inputs.len) + outputs.len + intermediates.len));

  const uint32_t nt = uint32_t(tensors.size());
  // (CALL_ONCE, which only runs an initialization subgraph, legitimately has neither.)
  if (inputs.len == 0 && outputs.len == 0 && code != kOpCallOnce) {
    return ModelError(where() + ": operator has no inputs and no outputs");
  }
  for (uint32_t i = 0; i < inputs.len; ++i) {
    int32_t v = w_.VI32(inputs, i);
    if (v == -1) continue;  // optional input left out
    if (v < 0 || uint32_t(v) >= nt) {
      return ModelError(where() + Fmt(": input tensor index %d out of range (subgraph has %u tensors)", v, nt));
    }
  }
  for (uint32_t i = 0; i < outputs.len; ++i) {
    int32_t v = w_.VI32(outputs, i);
    if (v < 0 || uint32_t(v) >= nt) {
      return ModelError(where() + Fmt(": output tensor index %d out of range (subgraph has %u tensors)", v, nt));
    }
  }
  for (uint32_t i = 0; i < intermediates.len; ++i) {
    int32_t v = w_.VI32(intermediates, i);
    if (v < 0 || uint32_t(v) >= nt) {
      return ModelError(where() + Fmt(": intermediate tensor index %d out of range (subgraph has %u tensors)", v,
                                      nt));
    }
  }
  if (large_offset > 1 && (large_offset > w_.size() || large_size > w_.size() - large_offset)) {
    return ModelError(where() + Fmt(": large custom options at offset %llu with size %llu lie outside the file "
                                    "(size %llu)",
                                    ull(large_offset), ull(large_size), ull(w_.size())));
  }

  // Custom operators built into the runtime read their options as a FlexBuffer.
  if (code == kOpCustom && IsFlexbufferCustomOp(custom_codes_[opcode_index])) {
    uint64_t begin = custom_options.data, size = custom_options.present ? custom_options.len : 0;
    if (large_offset > 1) begin = large_offset, size = large_size;
    if (size > 0) {
      VTRY(FlexVerifier(w_, begin, size).Run(), "%s '%s': custom options", where().c_str(),
           w_.Printable(custom_codes_[opcode_index]).c_str());
    }
  }

  // Options unions.
  if (opt_type >= kNumBuiltinOptions) {
    return ModelError(where() + Fmt(": builtin_options_type %u is not known (0..%d)", opt_type,
                                    kNumBuiltinOptions - 1));
  }
  if (opt2_type >= kNumBuiltinOptions2) {
    return ModelError(where() + Fmt(": builtin_options_2_type %u is not known (0..%d)", opt2_type,
                                    kNumBuiltinOptions2 - 1));
  }
  TableRef opts, opts2;
  bool has_opts = false, has_opts2 = false;
  if (opt_type != 0) {
    OTRY(w_.Child(op, 4, &opts, &has_opts, kBuiltinOptions[opt_type].name));
    if (has_opts) VTRY(VerifyOptionsTable(opts, kBuiltinOptions[opt_type]), "%s: %s", where().c_str(),
                       kBuiltinOptions[opt_type].name);
  }
  if (opt2_type != 0) {
    OTRY(w_.Child(op, 12, &opts2, &has_opts2, kBuiltinOptions2[opt2_type].name));
    if (has_opts2) VTRY(VerifyOptionsTable(opts2, kBuiltinOptions2[opt2_type]), "%s: %s", where().c_str(),
                        kBuiltinOptions2[opt2_type].name);
  }

  // Operators that need their options (the runtime would otherwise use zeros).
  auto need = [&](bool second, int type) -> Status {
    bool ok = second ? (opt2_type == type && has_opts2) : (opt_type == type && has_opts);
    if (ok) return Status();
    return ModelError(where() + Fmt(": operator has no %s", second ? kBuiltinOptions2[type].name
                                                                   : kBuiltinOptions[type].name));
  };
  auto positive = [&](const TableRef& t, int slot, int32_t def, const char* field) -> Status {
    int32_t v;
    OTRY(w_.I32(t, slot, def, &v, field));
    if (v < 1) return ModelError(where() + Fmt(": %s is %d, must be >= 1", field, v));
    return Status();
  };
  switch (code) {
    case kOpConv2D:
      VRET(need(false, kOptConv2D));
      VRET(positive(opts, 1, 0, "stride_w"));
      VRET(positive(opts, 2, 0, "stride_h"));
      VRET(positive(opts, 4, 1, "dilation_w_factor"));
      VRET(positive(opts, 5, 1, "dilation_h_factor"));
      break;
    case kOpDepthwiseConv2D:
      VRET(need(false, kOptDepthwiseConv2D));
      VRET(positive(opts, 1, 0, "stride_w"));
      VRET(positive(opts, 2, 0, "stride_h"));
      VRET(positive(opts, 5, 1, "dilation_w_factor"));
      VRET(positive(opts, 6, 1, "dilation_h_factor"));
      break;
    case kOpAveragePool2D:
    case kOpMaxPool2D:
    case kOpL2Pool2D:
      VRET(need(false, kOptPool2D));
      VRET(positive(opts, 1, 0, "stride_w"));
      VRET(positive(opts, 2, 0, "stride_h"));
      VRET(positive(opts, 3, 0, "filter_width"));
      VRET(positive(opts, 4, 0, "filter_height"));
      break;
    case kOpTransposeConv:
      VRET(need(false, kOptTransposeConv));
      VRET(positive(opts, 1, 0, "stride_w"));
      VRET(positive(opts, 2, 0, "stride_h"));
      break;
    case kOpConv3D:
    case kOpConv3DTranspose:
      VRET(need(false, kOptConv3D));
      VRET(positive(opts, 1, 0, "stride_d"));
      VRET(positive(opts, 2, 0, "stride_w"));
      VRET(positive(opts, 3, 0, "stride_h"));
      VRET(positive(opts, 5, 1, "dilation_d_factor"));
      VRET(positive(opts, 6, 1, "dilation_w_factor"));
      VRET(positive(opts, 7, 1, "dilation_h_factor"));
      break;
    case kOpSpaceToDepth:
      VRET(need(false, kOptSpaceToDepth));
      VRET(positive(opts, 0, 0, "block_size"));
      break;
    case kOpDepthToSpace:
      VRET(need(false, kOptDepthToSpace));
      VRET(positive(opts, 0, 0, "block_size"));
      break;
    case kOpCall:
      VRET(need(false, kOptCall));
      break;
    case kOpIf:
      VRET(need(false, kOptIf));
      break;
    case kOpWhile:
      VRET(need(false, kOptWhile));
      break;
    case kOpCallOnce:
      VRET(need(false, kOptCallOnce));
      break;
    case kOpStablehloWhile:
      VRET(need(true, kOpt2StablehloWhile));
      break;
    case kOpStablehloComposite:
      VRET(need(true, kOpt2StableHLOComposite));
      break;
    case kOpStablehloCase:
      VRET(need(true, kOpt2StablehloCase));
      break;
    case kOpStablehloReduce:
      VRET(need(true, kOpt2StablehloReduce));
      break;
    case kOpStablehloReduceWindow:
      VRET(need(true, kOpt2StablehloReduceWindow));
      break;
    case kOpStablehloScatter:
      VRET(need(true, kOpt2StablehloScatter));
      break;
    case kOpStablehloSort:
      VRET(need(true, kOpt2StablehloSort));
      break;
    default:
      break;
  }

  // DEQUANTIZE / DENSIFY of a constant: accelerators (XNNPACK) unpack these
  // ahead of time using the declared output shape, so it must be the input's.
  if ((code == kOpDequantize || code == kOpDensify) && inputs.len >= 1 && outputs.len >= 1) {
    int32_t in = w_.VI32(inputs, 0), out = w_.VI32(outputs, 0);
    if (in >= 0 && (tensors[in].has_data || tensors[in].sparse)) {
      const VecRef& a = tensors[in].shape;
      const VecRef& b = tensors[out].shape;
      bool same = a.len == b.len;
      for (uint32_t i = 0; same && i < a.len; ++i) same = w_.VI32(a, i) == w_.VI32(b, i);
      if (!same) {
        return ModelError(where() + Fmt(": output tensor %d has shape %s, but the constant input tensor %d has shape "
                                        "%s",
                                        out, ShapeString(w_, b).c_str(), in, ShapeString(w_, a).c_str()));
      }
    }
  }

  // Output shapes of common operators (all shapes static).
  const uint8_t rule = ShapeRules()[code];
  if (rule != kRuleNone) VRET(CheckShapeRule(rule, inputs, outputs, tensors, where));

  // Subgraph references held in options (whatever the operator).
  auto sub = [&](const TableRef& t, int slot, const char* field) -> Status {
    int32_t v;
    OTRY(w_.I32(t, slot, 0, &v, field));
    OTRY(CheckSubgraphRef(v, field, sginfo));
    return Status();
  };
  auto sub_vector = [&](const TableRef& t, int slot, const char* field) -> Status {
    VecRef v;
    OTRY(w_.Vector(t, slot, 4, &v, field));
    VRET(w_.Spend(v.len));
    for (uint32_t i = 0; i < v.len; ++i) OTRY(CheckSubgraphRef(w_.VI32(v, i), field, sginfo));
    return Status();
  };
  if (has_opts) {
    switch (opt_type) {
      case kOptCall: VRET(sub(opts, 0, "subgraph")); break;
      case kOptIf:
        VRET(sub(opts, 0, "then_subgraph_index"));
        VRET(sub(opts, 1, "else_subgraph_index"));
        break;
      case kOptWhile:
        VRET(sub(opts, 0, "cond_subgraph_index"));
        VRET(sub(opts, 1, "body_subgraph_index"));
        break;
      case kOptCallOnce: VRET(sub(opts, 0, "init_subgraph_index")); break;
      default: break;
    }
  }
  if (has_opts2) {
    switch (opt2_type) {
      case kOpt2StablehloWhile:
        VRET(sub(opts2, 0, "cond_subgraph_index"));
        VRET(sub(opts2, 1, "body_subgraph_index"));
        break;
      case kOpt2StablehloReduce: VRET(sub(opts2, 1, "body_subgraph_index")); break;
      case kOpt2StablehloReduceWindow: VRET(sub(opts2, 5, "body_subgraph_index")); break;
      case kOpt2StablehloScatter: VRET(sub(opts2, 6, "update_computation_subgraph_index")); break;
      case kOpt2StablehloSort: VRET(sub(opts2, 2, "comparator_subgraph_index")); break;
      case kOpt2StableHLOComposite: VRET(sub(opts2, 1, "decomposition_subgraph_index")); break;
      case kOpt2StablehloCase: VRET(sub_vector(opts2, 0, "branch_subgraph_indices")); break;
      case kOpt2StablehloCustomCall: VRET(sub_vector(opts2, 4, "called_computations")); break;
      default: break;
    }
  }

  // Data flow.
  if (o_.check_dataflow) {
    for (uint32_t i = 0; i < inputs.len; ++i) {
      int32_t v = w_.VI32(inputs, i);
      if (v == -1) continue;
      const TensorInfo& ti = tensors[v];
      if (!(ti.has_data || ti.zero_elements || ti.is_variable || is_input[v] || (*produced)[v])) {
        return ModelError(where() + Fmt(": input tensor %d is neither a constant, a variable, a subgraph input "
                                        "nor the output of an earlier operator",
                                        v));
      }
    }
    for (uint32_t i = 0; i < outputs.len; ++i) {
      int32_t v = w_.VI32(outputs, i);
      if (tensors[v].has_data) return ModelError(where() + Fmt(": output tensor %d is a constant", v));
      if (is_input[v]) return ModelError(where() + Fmt(": output tensor %d is a subgraph input", v));
      if ((*produced)[v]) {
        return ModelError(where() + Fmt(": output tensor %d is also written by an earlier operator", v));
      }
      (*produced)[v] = 1;
    }
  }
#undef OTRY
  return Status();
}

// ---------------------------------------------------------------------------
// Signatures, metadata, external buffers, call graph
// ---------------------------------------------------------------------------
Status ModelVerifier::VerifySignatures(const TableRef& model) {
  VecRef sigs;
  VTRY(w_.Vector(model, 7, 4, &sigs, "signature_defs"), "model");
  if (!sigs.present) return Status();
  VRET(w_.Spend(sigs.len));
  for (uint32_t i = 0; i < sigs.len; ++i) {
    TableRef s;
    VTRY(w_.VecTable(sigs, i, &s), "signature %u", i);
    VecRef ins, outs, key;
    uint32_t sgi;
    VTRY(w_.Vector(s, 0, 4, &ins, "inputs"), "signature %u", i);
    VTRY(w_.Vector(s, 1, 4, &outs, "outputs"), "signature %u", i);
    VTRY(w_.String(s, 2, &key, "signature_key"), "signature %u", i);
    VTRY(w_.U32(s, 4, 0, &sgi, "subgraph_index"), "signature %u", i);
    if (sgi >= nsubgraphs_) {
      return ModelError(Fmt("signature %u ('%s'): subgraph_index %u out of range (model has %u subgraphs)", i,
                            w_.Printable(key).c_str(), sgi, nsubgraphs_));
    }
    const uint32_t nt = subgraphs_[sgi].ntensors;
    for (int side = 0; side < 2; ++side) {
      const VecRef& maps = side == 0 ? ins : outs;
      VRET(w_.Spend(maps.len));
      for (uint32_t m = 0; m < maps.len; ++m) {
        TableRef tm;
        VecRef name;
        uint32_t index;
        VTRY(w_.VecTable(maps, m, &tm), "signature %u %s %u", i, side ? "output" : "input", m);
        VTRY(w_.String(tm, 0, &name, "name"), "signature %u %s %u", i, side ? "output" : "input", m);
        VTRY(w_.U32(tm, 1, 0, &index, "tensor_index"), "signature %u %s %u", i, side ? "output" : "input", m);
        if (index >= nt) {
          return ModelError(Fmt("signature %u ('%s') %s '%s': tensor index %u out of range (subgraph %u has %u "
                                "tensors)",
                                i, w_.Printable(key).c_str(), side ? "output" : "input",
                                w_.Printable(name).c_str(), index, sgi, nt));
        }
      }
    }
  }
  return Status();
}

Status ModelVerifier::VerifyMetadata(const TableRef& model) {
  const uint32_t nbuffers = uint32_t(buffers_.size());
  VecRef mb;
  VTRY(w_.Vector(model, 5, 4, &mb, "metadata_buffer"), "model");
  VRET(w_.Spend(mb.len));
  for (uint32_t i = 0; i < mb.len; ++i) {
    int32_t v = w_.VI32(mb, i);
    if (v < 0 || uint32_t(v) >= nbuffers) {
      return ModelError(Fmt("model: metadata_buffer[%u] = %d out of range (model has %u buffers)", i, v, nbuffers));
    }
  }
  VecRef md;
  VTRY(w_.Vector(model, 6, 4, &md, "metadata"), "model");
  if (!md.present) return Status();
  VRET(w_.Spend(md.len));
  for (uint32_t i = 0; i < md.len; ++i) {
    TableRef m;
    VecRef name;
    uint32_t buffer;
    VTRY(w_.VecTable(md, i, &m), "metadata %u", i);
    VTRY(w_.String(m, 0, &name, "name"), "metadata %u", i);
    VTRY(w_.U32(m, 1, 0, &buffer, "buffer"), "metadata %u", i);
    if (buffer >= nbuffers) {
      return ModelError(Fmt("metadata %u ('%s'): buffer index %u out of range (model has %u buffers)", i,
                            w_.Printable(name).c_str(), buffer, nbuffers));
    }
  }
  return Status();
}

Status ModelVerifier::VerifyExternalBuffers(const TableRef& model) {
  VecRef groups, ext;
  VTRY(w_.Vector(model, 8, 4, &groups, "external_buffer_groups"), "model");
  VTRY(w_.Vector(model, 9, 4, &ext, "external_buffers"), "model");
  VRET(w_.Spend(uint64_t(groups.len) + ext.len));
  for (uint32_t i = 0; i < groups.len; ++i) {
    TableRef g;
    VecRef name;
    VTRY(w_.VecTable(groups, i, &g), "external buffer group %u", i);
    VTRY(w_.String(g, 0, &name, "name"), "external buffer group %u", i);
  }
  for (uint32_t i = 0; i < ext.len; ++i) {
    TableRef e;
    uint32_t id, group;
    uint64_t offset, length;
    VecRef packing;
    VTRY(w_.VecTable(ext, i, &e), "external buffer %u", i);
    VTRY(w_.U32(e, 0, 0, &id, "id"), "external buffer %u", i);
    VTRY(w_.U32(e, 1, 0, &group, "group"), "external buffer %u", i);
    VTRY(w_.U64(e, 2, 0, &offset, "offset"), "external buffer %u", i);
    VTRY(w_.U64(e, 3, 0, &length, "length"), "external buffer %u", i);
    VTRY(w_.String(e, 4, &packing, "packing"), "external buffer %u", i);
    if (group >= groups.len) {
      return ModelError(Fmt("external buffer %u: group %u out of range (model has %u groups)", i, group, groups.len));
    }
    if (offset + length < offset) {
      return ModelError(Fmt("external buffer %u: offset %llu + length %llu overflows", i, ull(offset), ull(length)));
    }
    external_buffer_ids_.push_back(id);
  }
  std::sort(external_buffer_ids_.begin(), external_buffer_ids_.end());
  return Status();
}

// Operators may call other subgraphs (WHILE, IF, CALL_ONCE, STABLEHLO_*): the
// calls must not form a cycle, or preparing the model recurses forever.
Status ModelVerifier::CheckCallGraph() {
  const uint32_t n = nsubgraphs_;
  std::vector<uint8_t> state(n, 0);  // 0 unvisited, 1 on the stack, 2 done
  std::vector<std::pair<uint32_t, size_t>> stack;
  for (uint32_t root = 0; root < n; ++root) {
    if (state[root]) continue;
    stack.clear();
    stack.emplace_back(root, 0);
    state[root] = 1;
    while (!stack.empty()) {
      uint32_t s = stack.back().first;
      size_t& next = stack.back().second;
      const std::vector<int32_t>& callees = subgraphs_[s].callees;
      if (next < callees.size()) {
        uint32_t c = uint32_t(callees[next++]);
        if (state[c] == 1) {
          return ModelError(Fmt("subgraph %u calls subgraph %u, which is already on the call path (the subgraph "
                                "call graph has a cycle)",
                                s, c));
        }
        if (state[c] == 0) {
          state[c] = 1;
          stack.emplace_back(c, 0);
        }
      } else {
        state[s] = 2;
        stack.pop_back();
      }
    }
  }
  return Status();
}

#undef VTRY
#undef VRET

}  // namespace

Status VerifyModel(const uint8_t* data, size_t size, const VerifyOptions& opts) {
  if (data == nullptr && size != 0) return ModelError("model data is null");
  uint64_t budget = opts.max_work;
  if (budget == 0) budget = (uint64_t(1) << 20) + 2 * uint64_t(size);
  ModelVerifier v(data, size, opts, budget);
  return v.Run();
}

}  // namespace edgerun
